// The facts every compare report opens with (when, on what machine, with which versions, how
// many repetitions, which command), worded once for the Markdown and the HTML report, all taken
// from the result set so a report re-rendered later says the same.
import { RATIO_REFERENCE, type CompareResults } from '../results.js';
import { formatLoad } from './number-format.js';

export interface HeadingFacts {
  title: string;
  /** Label and plain-text value, in display order; the command is last and shown as code. */
  facts: [string, string][];
  command: string;
}

export function headingFacts(results: CompareResults): HeadingFacts {
  const { machine, versions } = results;
  const ghz = (machine.tscHz / 1e9).toFixed(3);
  const versionList = [`vmm ${versions.vmm}`, `Node ${versions.node}`, `Unicorn ${versions.unicorn}`];
  if (versions.qemu !== undefined) versionList.push(versions.qemu);
  return {
    title: `vmm bench compare, ${results.date}`,
    facts: [
      ['machine', `${machine.cpu}, ${machine.cores} cores, host TSC ${ghz} GHz`],
      ['load', `${formatLoad(machine.loadBefore)} before, ${formatLoad(machine.loadAfter)} after (1, 5, 15 min)`],
      ['versions', versionList.join(', ')],
      ['repetitions', `${results.repetitions} per cell; medians, min–max in parentheses, ratios to ${RATIO_REFERENCE}`],
    ],
    command: results.command,
  };
}
