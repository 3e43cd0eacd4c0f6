// Prints one plain closing line, "e2e: N passed, N failed", so a log
// reader sees the count without knowing Playwright's format.
export default class SummaryReporter {
  constructor() {
    this.passed = 0;
    this.failed = 0;
    this.skipped = 0;
  }

  onTestEnd(test, result) {
    if (result.status === "skipped") this.skipped++;
    else if (result.status === test.expectedStatus) this.passed++;
    else this.failed++;
  }

  onEnd() {
    const skipped = this.skipped ? `, ${this.skipped} skipped` : "";
    console.log(`e2e: ${this.passed} passed, ${this.failed} failed${skipped}`);
  }

  printsToStdio() {
    return false;
  }
}
