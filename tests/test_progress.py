"""What a run tells the person watching it: a bar only on a terminal, a step line about once a
minute in a file or a pipe, status lines on stdout, and the switches that drop them."""
import sys

from infoclust.progress import RunConsole


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_no_frames_and_one_step_line_a_minute(capsys):
    clock = FakeClock()
    console = RunConsole(1000, 0, "iic digits", progress=True, lines=True, clock=clock)
    console.say("iic on digits: the plan")
    for step in range(1, 1001):
        clock.now += 0.5  # two steps a second: 500 s in all
        console.step(step, {"loss": f"{-step / 1000:.4f}"} if step % 10 == 0 else {})
    console.say("stopped at step 1000: all 40 passes done")
    console.close()
    out, err = capsys.readouterr()
    assert "\r" not in err and "\r" not in out  # no carriage-return frames in a log
    steps = err.splitlines()
    assert 7 <= len(steps) <= 9 and all(line.startswith("step ") for line in steps)  # 500 s: about one a minute
    assert steps[0].startswith("step 120/1000 (12 %, 0:01:00): loss -0.1200")
    assert out.splitlines() == ["iic on digits: the plan", "stopped at step 1000: all 40 passes done"]


def test_quiet_drops_the_progress_and_silent_the_lines_too(capsys):
    for progress, lines, expect_out, expect_err in ((False, True, True, False), (False, False, False, False)):
        clock = FakeClock()
        console = RunConsole(100, 0, "x", progress=progress, lines=lines, clock=clock)
        console.say("a status line")
        for step in range(1, 101):
            clock.now += 10
            console.step(step, {"loss": "1.0"})
        console.close()
        out, err = capsys.readouterr()
        assert bool(out) == expect_out and bool(err) == expect_err, (progress, lines, out, err)


def test_on_a_terminal_the_bar_takes_the_place_of_step_lines(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    clock = FakeClock()
    console = RunConsole(100, 0, "x", progress=True, lines=True, clock=clock)
    assert not console.step_lines and not console.bar.disable
    for step in range(1, 101):
        clock.now += 10
        console.step(step, {"loss": "1.0"})
    console.close()
    assert "step 10/100" not in capsys.readouterr().err
