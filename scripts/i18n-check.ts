// Finds text a person would read that does not come from the catalogue (src-shared/i18n): text in
// .vue templates, static attributes people read (aria-label, title, placeholder, alt, label), and
// sentence-like string literals in the renderer's scripts. Used by test/unit/i18n-coverage.test.ts
// over the whole renderer, and by hand on a few files while converting them:
//   npx tsx scripts/i18n-check.ts src-renderer/src/components/SignIn.vue ...
//
// A literal that is not for people (a CSS selector, a log line) can stay with `i18n-ignore` in a
// comment on its line.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseSfc } from '@vue/compiler-sfc';
import { NodeTypes, type RootNode, type TemplateChildNode, type AttributeNode } from '@vue/compiler-core';
import ts from 'typescript';

export interface Finding {
  file: string;
  line: number;
  text: string;
}

const READ_ATTRS = new Set(['aria-label', 'title', 'placeholder', 'alt', 'label', 'aria-description', 'aria-roledescription', 'aria-valuetext']);
/** Letters that make a word: text of only symbols, digits, emoji or punctuation is not language. */
const WORD = /\p{L}{2,}/u;

function templateFindings(file: string, source: string, root: RootNode, offsetLine: number): Finding[] {
  const out: Finding[] = [];
  const lines = source.split('\n');
  const ignored = (line: number) => /i18n-ignore/.test(lines[line - 1] ?? '');
  const visit = (node: RootNode | TemplateChildNode) => {
    if (node.type === NodeTypes.TEXT) {
      const text = node.content.trim();
      const line = node.loc.start.line + offsetLine;
      if (WORD.test(text) && !ignored(line)) out.push({ file, line, text });
      return;
    }
    if (node.type === NodeTypes.INTERPOLATION && node.content.type === NodeTypes.SIMPLE_EXPRESSION) {
      const line = node.loc.start.line + offsetLine;
      if (!ignored(line)) for (const text of expressionTexts(node.content.content)) out.push({ file, line, text });
    }
    if (node.type === NodeTypes.ELEMENT) {
      for (const p of node.props) {
        const line = p.loc.start.line + offsetLine;
        if (ignored(line)) continue;
        if (p.type === NodeTypes.ATTRIBUTE) {
          const a = p as AttributeNode;
          if (READ_ATTRS.has(a.name) && a.value && WORD.test(a.value.content)) out.push({ file, line, text: `${a.name}="${a.value.content}"` });
        } else if (p.type === NodeTypes.DIRECTIVE && p.name === 'bind' && p.arg?.type === NodeTypes.SIMPLE_EXPRESSION && READ_ATTRS.has(p.arg.content) && p.exp?.type === NodeTypes.SIMPLE_EXPRESSION) {
          for (const text of expressionTexts(p.exp.content)) out.push({ file, line, text: `:${p.arg.content}: ${text}` });
        }
      }
    }
    if ('children' in node && Array.isArray(node.children)) for (const c of node.children) visit(c as TemplateChildNode);
  };
  visit(root);
  return out;
}

/** Literals with words in a template expression (`{{ busy ? 'Saving…' : 'Save' }}`), outside t(). */
function expressionTexts(expr: string): string[] {
  const out: string[] = [];
  const sf = ts.createSourceFile('expr.ts', `(${expr})`, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && NOT_FOR_PEOPLE_CALLS.has(calleeName(node))) return;
    if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && WORD.test(node.text)) out.push(node.text);
    if (ts.isTemplateExpression(node)) {
      const text = [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' ');
      if (WORD.test(text)) out.push(text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** A literal reads as words for people: two words with a space, starting with a capital or ending like a sentence. */
function sentenceLike(text: string): boolean {
  const t = text.trim();
  if (!/\p{L}{2,}\s+\p{L}{2,}/u.test(t)) return false;
  return /^\p{Lu}/u.test(t) || /[.!?…:]$/.test(t);
}

const NOT_FOR_PEOPLE_CALLS = new Set(['t', 'te', 'tm', 'console.log', 'console.warn', 'console.error', 'console.info', 'console.debug', 'querySelector', 'querySelectorAll', 'matchMedia', 'Error', 'TypeError', 'RangeError', 'defineStore']);

function calleeName(call: ts.CallExpression | ts.NewExpression): string {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) {
    const left = ts.isIdentifier(e.expression) ? `${e.expression.text}.` : '';
    return left === 'console.' ? `console.${e.name.text}` : e.name.text;
  }
  return '';
}

function scriptFindings(file: string, code: string, offsetLine: number, fullSource: string): Finding[] {
  const out: Finding[] = [];
  const lines = fullSource.split('\n');
  const sf = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return;
    if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && NOT_FOR_PEOPLE_CALLS.has(calleeName(node))) return;
    // A type's string literals ('online' | 'offline') are identifiers, not text.
    if (ts.isLiteralTypeNode(node)) return;
    let text: string | undefined;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) text = node.text;
    else if (ts.isTemplateExpression(node)) text = [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' ');
    if (text !== undefined) {
      const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 + offsetLine;
      if (sentenceLike(text) && !/i18n-ignore/.test(lines[line - 1] ?? '')) out.push({ file, line, text });
      if (ts.isTemplateExpression(node)) return;
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

export function checkFile(path: string, root = process.cwd()): Finding[] {
  const file = relative(root, path);
  const source = readFileSync(path, 'utf8');
  if (path.endsWith('.vue')) {
    const { descriptor } = parseSfc(source, { filename: path });
    const out: Finding[] = [];
    if (descriptor.template?.ast) out.push(...templateFindings(file, source, descriptor.template.ast, 0));
    for (const block of [descriptor.script, descriptor.scriptSetup]) {
      if (block) out.push(...scriptFindings(file, block.content, block.loc.start.line - 1, source));
    }
    return out;
  }
  return scriptFindings(file, source, 0, source);
}

/** The renderer's files whose text people read: components, views, stores and lib. */
export function rendererFiles(root = process.cwd()): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(vue|ts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(join(root, 'src-renderer/src'));
  return out.sort();
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) {
  const files = process.argv.slice(2);
  const findings = (files.length ? files : rendererFiles()).flatMap((f) => checkFile(f));
  for (const f of findings) console.log(`${f.file}:${f.line}: ${f.text}`);
  console.log(`${findings.length} text(s) outside the catalogue`);
  process.exitCode = findings.length ? 1 : 0;
}
