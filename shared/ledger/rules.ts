import { statusOf, type GitHub } from '../github.js';
import { repositoryOf, type LedgerScope } from './tags.js';

/**
 * Why GitHub refused a tag name that no ref holds: a tag ruleset restricting creation (every
 * number would be refused: say which ruleset), or else a name an immutable release once used
 * (never given out again: the next number is free).
 */

/**
 * A ruleset condition's fnmatch pattern against a full ref name: `*` matches within one path
 * segment, `**` across segments, `~ALL` everything.
 */
export function refPatternMatches(pattern: string, ref: string): boolean {
  if (pattern === '~ALL') return true;
  let expression = '^';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern.charAt(i);
    if (char === '*' && pattern.charAt(i + 1) === '*') {
      expression += '.*';
      i++;
    } else if (char === '*') {
      expression += '[^/]*';
    } else {
      expression += /[\w/-]/.test(char) ? char : `\\${char}`;
    }
  }
  return new RegExp(`${expression}$`).test(ref);
}

/**
 * The active tag rulesets that restrict creating this tag, by name; undefined when the token
 * may not read the rulesets. One request, plus one per active tag ruleset.
 */
export async function restrictingRulesets(
  github: GitHub,
  scope: LedgerScope,
  tag: string,
): Promise<string[] | undefined> {
  const repository = repositoryOf(scope);
  const ref = `refs/tags/${tag}`;
  try {
    const { data: listed } = await github.rest.repos.getRepoRulesets({
      ...repository,
      targets: 'tag',
    });
    const names: string[] = [];
    for (const summary of listed) {
      if (summary.target !== 'tag' || summary.enforcement !== 'active') continue;
      const { data: ruleset } = await github.rest.repos.getRepoRuleset({
        ...repository,
        ruleset_id: summary.id,
      });
      const condition =
        ruleset.conditions && 'ref_name' in ruleset.conditions
          ? ruleset.conditions.ref_name
          : undefined;
      const restricts = (ruleset.rules ?? []).some((rule) => rule.type === 'creation');
      const included = (condition?.include ?? []).some((p) => refPatternMatches(p, ref));
      const excluded = (condition?.exclude ?? []).some((p) => refPatternMatches(p, ref));
      if (restricts && included && !excluded) names.push(ruleset.name);
    }
    return names;
  } catch (error) {
    if (statusOf(error) === 403 || statusOf(error) === 404) return undefined;
    throw error;
  }
}
