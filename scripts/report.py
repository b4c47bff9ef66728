"""The bench's output: one Markdown document, printed and written to docs/benchmarks.md."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Row:
    number: str  # "<section>.<position>"
    measurement: str
    value: str
    method: str = ""
    target: str = ""
    passed: bool | None = None  # None: no target, or not measured

    @property
    def section(self) -> str:
        return self.number.split(".")[0]

    @property
    def result(self) -> str:
        if self.passed is None:
            return "n/a" if self.target else ""
        return "PASS" if self.passed else "MISS"


@dataclass
class Report:
    title: str
    facts: list[str] = field(default_factory=list)
    headings: dict[str, tuple[str, str]] = field(default_factory=dict)  # section -> (title, method)
    rows: list[Row] = field(default_factory=list)
    sections: list[tuple[str, list[str]]] = field(default_factory=list)  # (heading, lines)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def heading(self, section: str, title: str, method: str) -> None:
        self.headings[section] = (title, method)

    def section(self, heading: str, lines: list[str]) -> None:
        self.sections.append((heading, lines))

    def misses(self) -> list[Row]:
        return [row for row in self.rows if row.passed is False]

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        out += [f"- {fact}" for fact in self.facts]
        misses = self.misses()
        targets = [row for row in self.rows if row.target]
        out += ["", f"**{len(targets) - len(misses)} of {len(targets)} targets met.**"]
        out += [f"- MISS {row.number} {row.measurement}: {row.value}" for row in misses]
        ordered = sorted(self.rows, key=lambda row: [int(part) for part in row.number.split(".")])
        for section in sorted({row.section for row in ordered}, key=int):
            title, method = self.headings.get(section, (f"Section {section}", ""))
            out += ["", f"## {section}. {title}", ""]
            if method:
                out += [method, ""]
            out += table(
                ["#", "measurement", "value", "target", "result", "method"],
                [
                    [r.number, r.measurement, r.value, r.target, r.result, r.method]
                    for r in ordered
                    if r.section == section
                ],
            )
        for heading, lines in self.sections:
            out += ["", f"## {heading}", "", *lines]
        return "\n".join(out).rstrip() + "\n"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def dollars(value: float) -> str:
    if value == 0:
        return "$0"
    if value < 0.01:
        return f"${value:.4f}"
    return f"${value:.3f}" if value < 10 else f"${value:.2f}"


def size(num_bytes: float) -> str:
    if num_bytes >= 1024 * 1024:
        return f"{num_bytes / 1024 / 1024:.1f} MB"
    return f"{num_bytes / 1024:.1f} KB"


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"
