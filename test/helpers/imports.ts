/**
 * Reads the module references of a source file with the TypeScript parser (not regexes), so the
 * layering test sees exactly what the bundlers see: type-only imports, side-effect imports,
 * re-exports, dynamic `import()` and `require()`.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';

export interface ModuleRef {
  specifier: string;
  /** Erased at compile time (`import type`, `export type`, `import('x').T`). */
  typeOnly: boolean;
  line: number;
}

export interface SourceFacts {
  refs: ModuleRef[];
  /** Every identifier used in code (comments and strings excluded). */
  identifiers: Set<string>;
  /** The text of every string and template literal, with its line. */
  strings: { text: string; line: number }[];
}

/** The script blocks of a .svelte file (markup and styles cannot import modules). */
export function svelteScripts(source: string): string {
  const blocks = [...source.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
  return blocks.join('\n');
}

export function analyseSource(fileName: string, text: string): SourceFacts {
  const code = fileName.endsWith('.svelte') ? svelteScripts(text) : text;
  const sf = ts.createSourceFile(fileName, code, ts.ScriptTarget.Latest, true, fileName.endsWith('.svelte') ? ts.ScriptKind.TS : undefined);
  const refs: ModuleRef[] = [];
  const identifiers = new Set<string>();
  const strings: { text: string; line: number }[] = [];
  const add = (node: ts.Node, spec: ts.Expression | undefined, typeOnly: boolean) => {
    if (spec && ts.isStringLiteralLike(spec)) {
      refs.push({ specifier: spec.text, typeOnly, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      // Under verbatimModuleSyntax `import { type A } from 'x'` still loads 'x'; only `import type` is erased.
      add(node, node.moduleSpecifier, node.importClause?.isTypeOnly === true);
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg)) add(node, arg.literal as ts.Expression, true);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isDynamicImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require';
      if (isDynamicImport || isRequire) add(node, node.arguments[0], false);
    } else if (ts.isIdentifier(node)) {
      identifiers.add(node.text);
    } else if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      strings.push({ text: node.text, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { refs, identifiers, strings };
}

export function analyseFile(file: string): SourceFacts {
  return analyseSource(file, readFileSync(file, 'utf8'));
}
