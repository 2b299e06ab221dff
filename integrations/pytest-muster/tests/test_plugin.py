"""The plugin's behaviour, through pytester runs of small inner suites."""

import re

import pytest
from datetime import datetime

RFC3339_US = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

OUTCOMES = """
import pytest

@pytest.fixture
def broken_setup():
    raise RuntimeError("setup broke")

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown broke")

def test_passes():
    pass

def test_fails():
    assert 1 == 2

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known")
def test_xfails():
    assert False

def test_setup_error(broken_setup):
    pass

def test_teardown_error(broken_teardown):
    pass

def test_fails_and_teardown_error(broken_teardown):
    assert False
"""


def test_inactive_without_the_tests_file(pytester, monkeypatch):
    monkeypatch.delenv("MUSTER_TESTS_FILE", raising=False)
    pytester.makepyfile(
        """
        def test_not_registered(request):
            assert request.config.pluginmanager.get_plugin("muster-recorder") is None

        def test_fails():
            assert False
        """
    )
    result = pytester.runpytest("--muster-strict")
    result.assert_outcomes(passed=1, failed=1)
    assert "muster:" not in result.stdout.str() and "- muster -" not in result.stdout.str()
    assert not list(pytester.path.rglob("*.jsonl"))


def test_one_line_per_test_with_its_window_and_outcome(pytester, muster_env, fake_control):
    pytester.makepyfile(test_outcomes=OUTCOMES)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=2, skipped=1, xfailed=1, errors=3)
    lines = muster_env.lines()
    assert len(lines) == 7
    assert [line["id"] for line in lines] == [
        "test_outcomes.py::" + name
        for name in ("test_passes", "test_fails", "test_skipped", "test_xfails",
                     "test_setup_error", "test_teardown_error", "test_fails_and_teardown_error")
    ]
    outcomes = {line["id"].split("::")[1]: line["outcome"] for line in lines}
    assert outcomes == {
        "test_passes": "passed",
        "test_fails": "failed",
        "test_skipped": "skipped",
        "test_xfails": "skipped",
        "test_setup_error": "error",
        "test_teardown_error": "error",
        "test_fails_and_teardown_error": "failed",
    }
    previous_end = ""
    for line in lines:
        assert line["worker"] == "main" and line["source"] == "pytest"
        assert RFC3339_US.match(line["start"]) and RFC3339_US.match(line["end"]), line
        assert line["start"] <= line["end"]
        assert previous_end <= line["start"], "tests ran one after the other"
        previous_end = line["end"]
    # Nothing was disrupted: no muster section, and the summary says so.
    output = result.stdout.str()
    assert "- muster -" not in output
    assert "muster: none of 4 failing tests overlapped a disruption of the stack" in output


def test_the_window_covers_setup_call_and_teardown(pytester, muster_env):
    pytester.makepyfile(
        """
        import time, pytest
        from datetime import datetime, timezone

        def stamp(path):
            with open(path, "a") as handle:
                handle.write(datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "\\n")

        @pytest.fixture
        def marks(tmp_path_factory):
            path = str(tmp_path_factory.getbasetemp() / "marks")
            stamp(path)
            yield path
            time.sleep(0.02)
            stamp(path)

        def test_slow_edges(marks):
            time.sleep(0.02)
        """
    )
    result = pytester.runpytest("--basetemp", str(pytester.path / "base"))
    result.assert_outcomes(passed=1)
    (line,) = muster_env.lines()
    first, last = (pytester.path / "base" / "marks").read_text().split()
    assert line["start"] <= first and last <= line["end"]


@pytest.mark.parametrize("socket", ["gone.sock", None])
def test_unreachable_socket_warns_once_and_keeps_recording(pytester, muster_env, monkeypatch, socket):
    if socket:
        monkeypatch.setenv("MUSTER_CONTROL_SOCKET", str(pytester.path / socket))
    pytester.makepyfile("\n".join(f"def test_{i}():\n    assert False\n" for i in range(5)))
    result = pytester.runpytest()
    result.assert_outcomes(failed=5)
    output = result.stdout.str()
    assert output.count("cannot ask which disruptions overlapped a test") == 1, output
    assert (socket or "MUSTER_CONTROL_SOCKET is not set") in output
    assert [line["outcome"] for line in muster_env.lines()] == ["failed"] * 5


SCENARIO = """
import time
import fake_stack

def test_a_own_bug():
    assert 1 == 2

def test_b_broken_by_the_restart():
    fake_stack.begin()
    time.sleep(0.01)
    assert False, "lost messages"

def test_c_waits_for_the_service():
    time.sleep(0.01)
    fake_stack.end()

def test_d_later_bug():
    time.sleep(0.01)
    assert 2 == 3
"""


def _failure_blocks(output):
    """pytest's failure output cut into {headline: text}."""
    blocks, name = {}, None
    for line in output.splitlines():
        match = re.match(r"^_{3,} (.+?) _{3,}$", line)
        if match:
            name = match.group(1)
            blocks[name] = ""
        elif re.match(r"^={3,}", line):
            name = None
        elif name:
            blocks[name] += line + "\n"
    return blocks


def _check_scenario(result, muster_env):
    output = result.stdout.str()
    blocks = _failure_blocks(output)
    assert set(blocks) == {"test_a_own_bug", "test_b_broken_by_the_restart", "test_d_later_bug"}, output
    broken = blocks["test_b_broken_by_the_restart"]
    assert "- muster -" in broken
    sentence = re.search(
        r"notifier restarted at (\d\d:\d\d:\d\d\.\d{3}) \(exited with code 1 after 3\.2s; was ready\) "
        r"while this test ran; not back yet \[event 7\]",
        broken,
    )
    assert sentence, broken
    assert "| fatal: broker went away" in broken
    assert "- muster -" not in blocks["test_a_own_bug"]
    assert "- muster -" not in blocks["test_d_later_bug"]
    assert "muster: 1 of 3 failing tests overlapped a disruption of notifier" in output
    # The time shown is local wall-clock time within the broken test's window.
    line = muster_env.by_name()["test_b_broken_by_the_restart"]
    shown = sentence.group(1)
    start = datetime.fromisoformat(line["start"].replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S.%f")[:-3]
    end = datetime.fromisoformat(line["end"].replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S.%f")[:-3]
    assert start <= shown <= end


def test_a_failing_test_names_the_disruption_that_overlapped_it(fake_stack, muster_env, fake_control):
    fake_stack.makepyfile(test_scenario=SCENARIO)
    result = fake_stack.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=3)
    _check_scenario(result, muster_env)


def test_under_xdist_the_section_and_the_summary_come_through(fake_stack, muster_env, fake_control):
    fake_stack.makepyfile(
        test_scenario=SCENARIO,
        test_other="\n".join(f"def test_other_{i}():\n    pass\n" for i in range(6)),
    )
    result = fake_stack.runpytest_subprocess("-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=7, failed=3)
    _check_scenario(result, muster_env)
    workers = {line["worker"] for line in muster_env.lines()}
    assert workers <= {"gw0", "gw1"} and workers


STRICT = """
import time
import fake_stack

def test_a_before():
    pass

def test_b_passes_through_a_restart():
    fake_stack.begin(service="api", kind="exited", seq=3, reason="killed by SIGKILL", log_tail=())
    time.sleep(0.01)

def test_c_still_down():
    pass

def test_d_recovered():
    fake_stack.end(service="api")

def test_e_after():
    time.sleep(0.01)
"""


def test_strict_mode_reports_a_passing_test_that_overlapped_a_disruption(fake_stack, muster_env, fake_control):
    fake_stack.makepyfile(test_strict=STRICT)
    relaxed = fake_stack.runpytest()
    relaxed.assert_outcomes(passed=5)
    assert "muster: no failing tests" in relaxed.stdout.str()

    open(muster_env.tests_file, "w").close()
    open(fake_control.disruptions_file, "w").write("[]")
    strict = fake_stack.runpytest("--muster-strict")
    # Three passed while api was down; each gets an error at teardown.
    strict.assert_outcomes(passed=5, errors=3)
    output = strict.stdout.str()
    blocks = _failure_blocks(output)
    assert set(blocks) == {
        "ERROR at teardown of test_b_passes_through_a_restart",
        "ERROR at teardown of test_c_still_down",
        "ERROR at teardown of test_d_recovered",
    }, output
    for text in blocks.values():
        assert "--muster-strict:" in text and "api exited at" in text and "(killed by SIGKILL)" in text
    assert "muster: 3 of 3 failing tests overlapped a disruption of api" in output
    outcomes = {name: line["outcome"] for name, line in muster_env.by_name().items()}
    assert outcomes == {
        "test_a_before": "passed",
        "test_b_passes_through_a_restart": "error",
        "test_c_still_down": "error",
        "test_d_recovered": "error",
        "test_e_after": "passed",
    }


def test_nothing_happening_costs_no_request(fake_stack, muster_env, fake_control):
    fake_stack.makepyfile("\n".join(f"def test_{i}():\n    pass\n" for i in range(40)))
    result = fake_stack.runpytest("--muster-strict")
    result.assert_outcomes(passed=40)
    # One request to learn that nothing was open; after that events.jsonl kept its
    # size, so no test needed the API.
    assert len(fake_control.requests) == 1, fake_control.requests
    assert len(muster_env.lines()) == 40


def test_xdist_workers_append_whole_lines(pytester, muster_env):
    pytester.makepyfile(
        "\n".join(f"def test_{i}():\n    pass\n" for i in range(120))
    )
    result = pytester.runpytest_subprocess("-n", "3")
    result.assert_outcomes(passed=120)
    lines = muster_env.lines()  # every line parses as JSON
    assert sorted(line["id"] for line in lines) == sorted(f"test_xdist_workers_append_whole_lines.py::test_{i}" for i in range(120))
    workers = {line["worker"] for line in lines}
    assert workers <= {"gw0", "gw1", "gw2"} and len(workers) >= 2


def test_muster_db_outside_muster_run_is_one_usage_line(pytester, monkeypatch):
    """`pytest --muster-db db` after `muster up -d`, not under `muster run`: one line
    saying how to run it, not an error per test blaming the option that was given."""
    monkeypatch.delenv("MUSTER_CONTROL_SOCKET", raising=False)
    monkeypatch.delenv("MUSTER_TESTS_FILE", raising=False)
    pytester.makepyfile("def test_uses_it(muster_db):\n    pass\n")
    result = pytester.runpytest("--muster-db", "db", "--muster-keep-failed")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--muster-db db works under `muster run`*run: muster run -- python -m pytest*"])
    assert "needs --muster-db" not in result.stdout.str() + result.stderr.str()


def test_muster_db_fixture_outside_muster_run_says_how_to_run(pytester, monkeypatch):
    """muster_db = db in the ini file (plain pytest runs stay usable): the fixture's
    error says to run under `muster run`, not to pass the option the ini gives."""
    monkeypatch.delenv("MUSTER_CONTROL_SOCKET", raising=False)
    monkeypatch.delenv("MUSTER_TESTS_FILE", raising=False)
    pytester.makeini("[pytest]\nmuster_db = db\n")
    pytester.makepyfile("def test_uses_it(muster_db):\n    pass\n\ndef test_plain():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*muster_db works under `muster run`*run: muster run -- python -m pytest*"])
