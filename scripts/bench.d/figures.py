"""The figures of BENCHMARKS.md: medians with their spread, per-round ratios and
limits, the summary table and its verdicts. Every report module builds on these."""

import statistics

MET = "met"
MISSED = "**missed**"
INFO = "—"


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values), len(values)


def ms(seconds):
    if seconds is None:
        return "–"
    value = seconds * 1000
    if value >= 10_000:
        return f"{seconds:.1f} s"
    if value >= 1_000:
        return f"{seconds:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def ratio(value):
    return "–" if value is None else f"{value:.2f}×"


def totals(entries):
    return [e["total"] for e in entries]


def by_round(entries):
    return {e["round"]: e["total"] for e in entries}


def paired_ratios(numerators, denominators):
    a, b = by_round(numerators), by_round(denominators)
    return [a[r] / b[r] for r in sorted(a) if r in b and b[r] > 0]


def paired_excess(numerators, denominators, factor, slack):
    """Per round: muster's time minus the limit from the same round's ideal."""
    a, b = by_round(numerators), by_round(denominators)
    return [a[r] - (factor * b[r] + slack) for r in sorted(a) if r in b]


def judge_paired(numerators, denominators, factor, slack):
    excess = paired_excess(numerators, denominators, factor, slack)
    if not excess:
        return None, None
    med = statistics.median(excess)
    return med <= 0, med


class Table:
    def __init__(self):
        self.rows = []

    def add(self, figure, values, fmt, target=INFO, result=INFO):
        s = stats(values)
        if s is None:
            self.rows.append([figure, "not measured", "", "", "0", target, result])
            return
        med, lo, hi, n = s
        self.rows.append([figure, fmt(med), fmt(lo), fmt(hi), str(n), target, result])

    def text(self):
        head = ["Figure", "Median", "Min", "Max", "Runs", "Target", "Result"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            lines.append("| " + " | ".join(row) + " |")
        return "\n".join(lines)


def verdict(ok):
    return MET if ok else MISSED
