/**
 * Vitest setup: SD4MATCH_TEST_PROVIDER (e.g. `webgpu`) makes it the provider every session of the
 * test process uses when its caller names none, as `--provider` does for the CLI: the fixture
 * parity suites run unchanged on another execution provider.
 */
import { parseProviderChoice, setProviderChoice } from '../../src/main/engine/onnx/providers.js';

const wanted = process.env.SD4MATCH_TEST_PROVIDER;
if (wanted) setProviderChoice(parseProviderChoice(wanted, 'SD4MATCH_TEST_PROVIDER'), 'option');
