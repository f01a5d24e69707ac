/**
 * A software Vulkan driver (Mesa's lavapipe) to run the WebGPU provider on for real, when one is at
 * hand: SD4MATCH_TEST_VULKAN_ICD names its ICD manifest and SD4MATCH_TEST_VULKAN_LIB the folder
 * holding libvulkan.so.1 and the driver, or a system install is found.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The environment that points the Vulkan loader at lavapipe, or null when there is none. */
export function softwareVulkan(): Record<string, string> | null {
  const icd = process.env.SD4MATCH_TEST_VULKAN_ICD;
  if (icd) return { VK_ICD_FILENAMES: icd, ...(process.env.SD4MATCH_TEST_VULKAN_LIB ? { LD_LIBRARY_PATH: process.env.SD4MATCH_TEST_VULKAN_LIB } : {}) };
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  for (const d of dirs) {
    const lvp = fs.existsSync(d) ? fs.readdirSync(d).find((f) => /^lvp_icd.*\.json$/.test(f)) : undefined;
    if (lvp && fs.existsSync('/usr/lib/x86_64-linux-gnu/libvulkan.so.1')) return { VK_ICD_FILENAMES: path.join(d, lvp) };
  }
  return null;
}

/** What is missing for a software Vulkan driver here (one line for a skipped test), or null. */
export const NO_SOFTWARE_VULKAN = "no software Vulkan driver: install Mesa's lavapipe (mesa-vulkan-drivers, libvulkan1) or set SD4MATCH_TEST_VULKAN_ICD";

/**
 * Why this test process cannot use the software Vulkan driver `vulkan` (one line), or null: none
 * found, or its library folder missing from LD_LIBRARY_PATH, which the loader reads when the
 * process starts (it cannot be added to a running process).
 */
export function softwareVulkanMissing(vulkan: Record<string, string> | null): string | null {
  if (!vulkan) return NO_SOFTWARE_VULKAN;
  if (vulkan.LD_LIBRARY_PATH && !(process.env.LD_LIBRARY_PATH ?? '').includes(vulkan.LD_LIBRARY_PATH))
    return `LD_LIBRARY_PATH must include ${vulkan.LD_LIBRARY_PATH} (SD4MATCH_TEST_VULKAN_LIB) when the tests start`;
  return null;
}
