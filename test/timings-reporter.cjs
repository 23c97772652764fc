// Prints how long each jest project (unit, peer, cluster, e2e) took, for CI's timing lines:
// "[timing] cluster: 3 files, 96.4s of test time, 95.1s wall".
class TimingsReporter {
  onRunComplete(_contexts, results) {
    const byProject = new Map();
    for (const r of results.testResults) {
      const name = (r.displayName && r.displayName.name) || 'default';
      const p = byProject.get(name) || { files: 0, sum: 0, start: Infinity, end: 0 };
      p.files += 1;
      p.sum += (r.perfStats.end - r.perfStats.start) / 1000;
      p.start = Math.min(p.start, r.perfStats.start);
      p.end = Math.max(p.end, r.perfStats.end);
      byProject.set(name, p);
    }
    const lines = [...byProject].map(
      ([name, p]) =>
        `[timing] ${name}: ${p.files} file(s), ${p.sum.toFixed(1)}s of test time, ${((p.end - p.start) / 1000).toFixed(1)}s wall`,
    );
    const total = (Date.now() - results.startTime) / 1000;
    process.stdout.write(`\n${lines.join('\n')}\n[timing] jest in all: ${total.toFixed(1)}s\n`);
  }
}
module.exports = TimingsReporter;
