// The largest functions and files in shared/ and cli/src, by lines, from the TypeScript syntax
// tree: STYLE's limits are 100 lines a function and 400 a file. `node scripts/sizes.mjs [N]`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import ts from 'typescript';

const most = Number(process.argv[2] ?? 6);
const files = execFileSync('git', ['ls-files', 'shared/**.ts', 'cli/src/**.ts'], {
  encoding: 'utf8',
})
  .trim()
  .split('\n');
const functions = [];
const lengths = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  lengths.push([text.split('\n').length - (text.endsWith('\n') ? 1 : 0), file]);
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (position) => source.getLineAndCharacterOfPosition(position).line;
  const visit = (node) => {
    if (
      ts.isFunctionDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isArrowFunction(node) ||
      ts.isFunctionExpression(node)
    ) {
      const first = lineOf(node.getStart());
      const named =
        node.name ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name : undefined);
      const name = named ? named.getText() : '(anonymous)';
      functions.push([lineOf(node.getEnd()) - first + 1, `${file}:${first + 1} ${name}`]);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
const top = (rows) =>
  rows
    .sort((a, b) => b[0] - a[0])
    .slice(0, most)
    .map(([lines, where]) => `  ${String(lines).padStart(4)}  ${where}`)
    .join('\n');
console.log(`functions (lines):\n${top(functions)}\nfiles (lines):\n${top(lengths)}`);
