"""Reads a JUnit XML file the way CI tools' Python side does (junitparser), checks it
against the shape of the JUnit schema that Jenkins, GitLab and GitHub's test
reporters read, and prints what it read as one JSON object.

    python read_junit.py FILE

Exit 1 with one line per problem when the file breaks the schema."""
import json
import re
import sys
import xml.etree.ElementTree as ElementTree

import junitparser

DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
# The schema's timestamp: an ISO 8601 date and time without a zone.
TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$")
SUITE_REQUIRED = {"name", "tests", "failures", "errors", "time", "timestamp", "hostname"}
SUITE_ALLOWED = SUITE_REQUIRED | {"id", "package", "skipped", "file", "disabled", "assertions"}
CASE_REQUIRED = {"name", "classname", "time"}
CASE_ALLOWED = CASE_REQUIRED | {"timestamp", "file", "line", "assertions"}
RESULT_ALLOWED = {"message", "type"}

problems = []


def problem(text):
    problems.append(text)


def check_schema(path):
    # A strict parser: a character XML 1.0 cannot carry, or bad escaping, fails here.
    root = ElementTree.parse(path).getroot()
    if root.tag != "testsuites":
        problem(f"root is <{root.tag}>, not <testsuites>")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for key in totals:
        if key in root.attrib and not root.attrib[key].isdigit():
            problem(f"testsuites {key}={root.attrib[key]!r} is not a count")
    for suite in root:
        if suite.tag != "testsuite":
            problem(f"<testsuites> holds <{suite.tag}>")
            continue
        attrs = set(suite.attrib)
        if SUITE_REQUIRED - attrs:
            problem(f"testsuite {suite.get('name')!r} lacks {sorted(SUITE_REQUIRED - attrs)}")
        if attrs - SUITE_ALLOWED:
            problem(f"testsuite {suite.get('name')!r} has unknown {sorted(attrs - SUITE_ALLOWED)}")
        if not TIMESTAMP.match(suite.get("timestamp", "")) or "." in suite.get("timestamp", ""):
            problem(f"testsuite timestamp {suite.get('timestamp')!r} is not the schema's form")
        if not DECIMAL.match(suite.get("time", "")):
            problem(f"testsuite time {suite.get('time')!r} is not a decimal")
        counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        seen_case = False
        for child in suite:
            if child.tag == "properties":
                if seen_case:
                    problem("<properties> after a testcase")
                continue
            if child.tag in ("system-out", "system-err"):
                continue
            if child.tag != "testcase":
                problem(f"testsuite holds <{child.tag}>")
                continue
            seen_case = True
            counted["tests"] += 1
            case_attrs = set(child.attrib)
            if CASE_REQUIRED - case_attrs:
                problem(f"testcase {child.get('name')!r} lacks {sorted(CASE_REQUIRED - case_attrs)}")
            if case_attrs - CASE_ALLOWED:
                problem(f"testcase {child.get('name')!r} has unknown {sorted(case_attrs - CASE_ALLOWED)}")
            if not DECIMAL.match(child.get("time", "")):
                problem(f"testcase time {child.get('time')!r} is not a decimal")
            if "timestamp" in child.attrib and not TIMESTAMP.match(child.get("timestamp")):
                problem(f"testcase timestamp {child.get('timestamp')!r} is not ISO 8601 without a zone")
            results = [c for c in child if c.tag in ("failure", "error", "skipped")]
            if len(results) > 1:
                problem(f"testcase {child.get('name')!r} has {len(results)} results")
            for grandchild in child:
                if grandchild.tag not in ("failure", "error", "skipped", "system-out", "system-err"):
                    problem(f"testcase holds <{grandchild.tag}>")
                if grandchild.tag in ("failure", "error", "skipped") and set(grandchild.attrib) - RESULT_ALLOWED:
                    problem(f"<{grandchild.tag}> has unknown {sorted(set(grandchild.attrib) - RESULT_ALLOWED)}")
            for result in results:
                key = {"failure": "failures", "error": "errors", "skipped": "skipped"}[result.tag]
                counted[key] += 1
        for key, value in counted.items():
            if suite.get(key, "0") != str(value):
                problem(f"testsuite {suite.get('name')!r} says {key}={suite.get(key)} but holds {value}")
            totals[key] += value
    for key, value in totals.items():
        if key in root.attrib and root.attrib[key] != str(value):
            problem(f"testsuites says {key}={root.attrib[key]} but holds {value}")


def read(path):
    xml = junitparser.JUnitXml.fromfile(path)
    suites, cases = [], []
    for suite in xml:
        suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures, "errors": suite.errors,
                       "skipped": suite.skipped, "hostname": suite.hostname, "timestamp": suite.timestamp})
        for case in suite:
            results = case.result
            kind = type(results[0]).__name__.lower() if results else "passed"
            cases.append({"suite": suite.name, "classname": case.classname, "name": case.name, "time": case.time,
                          "result": kind, "message": results[0].message if results else None,
                          "system_err": case.system_err})
    return {"suites": suites, "cases": cases}


if __name__ == "__main__":
    file = sys.argv[1]
    check_schema(file)
    if problems:
        for line in problems:
            print(f"{file}: {line}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(read(file)))
