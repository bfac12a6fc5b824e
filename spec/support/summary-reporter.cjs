// Mocha's spec reporter plus a closing `N passed, N failed[, N skipped]` line, which CI reads.
// KDA_SUMMARY_FILE, when set, receives the same counts as JSON so a wrapper can add up several runs.
const fs = require('node:fs');
const Mocha = require('mocha');
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats;
      const line = `${s.passes} passed, ${s.failures} failed` + (s.pending ? `, ${s.pending} skipped` : '');
      if (process.env.KDA_SUMMARY_FILE) {
        fs.appendFileSync(
          process.env.KDA_SUMMARY_FILE,
          JSON.stringify({ passed: s.passes, failed: s.failures, skipped: s.pending }) + '\n',
        );
      }
      process.stdout.write(line + '\n');
    });
  }
}
module.exports = SpecWithSummary;
