"""Replay benchmark (make bench): every measured day through the firmware's own control rules.

    python -m tools.replay --traces DIR [--heater-w 2000] [--poll-s 1] [--base-load-w 300]

Each day is interpolated to the poll interval and fed to firmware/control.py (the defaults of
config.py), with the heater drawing its power whenever the relay is on (the tank never fills
here: this measures the rules, not the tank). PV-only days get a constant base load.
Beside it runs a naive baseline: on at export >= heater power, off at any import, 10 s delays,
no minimum times. Per day and in total it reports the ideal (the sum over time of
min(export without the heater, heater power)), the energy diverted and how much of it came from
surplus and from the grid, the export left over, and the relay switches. It writes a PNG per day
and a summary table to build/replay/.
"""

import argparse
import glob
import os
import sys

from firmware import config
from firmware.control import Control
from tools.house import load_trace
from tools.sim import ROOT

BASELINE = {
    "start_margin_w": 0,
    "max_import_w": 0,
    "start_delay_s": 10,
    "stop_delay_s": 10,
    "min_on_s": 0,
    "min_off_s": 0,
    "stale_s": 30,
}


def defaults():
    return {k: spec[1] for k, spec in config.SCHEMA["control"].items()}


def series(path, poll_s, base_load_w):
    """(t, pv, load) at every poll, linearly interpolated; gaps over 10 minutes are skipped."""
    times, pv, load, pv_only = load_trace(path, base_load_w)
    out = []
    t = times[0]
    i = 0
    while t <= times[-1]:
        while times[i + 1] < t:
            i += 1
        t0, t1 = times[i], times[i + 1]
        if t1 - t0 <= 600:
            f = (t - t0) / (t1 - t0)
            out.append((t, pv[i] + f * (pv[i + 1] - pv[i]), load[i] + f * (load[i + 1] - load[i])))
        t += poll_s
        if i + 1 >= len(times) - 1 and t > times[-1]:
            break
    return out, pv_only


def run(samples, params, heater_w, poll_s):
    """Drive one controller through the day. Returns the totals and the relay state per sample."""
    ctl = Control(params, -(10**6))  # booted long ago: no min_off at the start of the trace
    on = False
    r = {"diverted": 0.0, "grid": 0.0, "export": 0.0, "switches": 0}
    states = []
    h = poll_s / 3600
    for t, pv, load in samples:
        net = load - pv + (heater_w if on else 0.0)
        want, _ = ctl.decide(t, net, 0, on, heater_w)
        if want != on:
            on = want
            ctl.switched(t)
            r["switches"] += on
            net = load - pv + (heater_w if on else 0.0)
        if on:
            r["diverted"] += heater_w * h
            r["grid"] += min(max(net, 0.0), heater_w) * h
        r["export"] += max(0.0, -net) * h
        states.append(on)
    return r, states


def plot_day(name, samples, states, base_states, heater_w, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [s[0] / 3600 for s in samples]
    fig, (top, low) = plt.subplots(
        2, 1, figsize=(11, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot(hours, [s[1] / 1000 for s in samples], color="#e6a700", label="PV")
    top.plot(hours, [s[2] / 1000 for s in samples], color="#555555", label="load (without heater)")
    top.plot(
        hours,
        [
            (s[2] - s[1] + (heater_w if on else 0)) / 1000
            for s, on in zip(samples, states, strict=True)
        ],
        color="#1f77b4",
        linewidth=0.8,
        label="net grid with the diverter (+ import)",
    )
    top.axhline(0, color="black", linewidth=0.6)
    top.set_ylabel("kW")
    top.legend(loc="upper left", fontsize=8)
    top.set_title("%s, heater %d W" % (name, heater_w), fontsize=10)
    low.fill_between(
        hours,
        [1 if s else 0 for s in states],
        step="post",
        color="#d62728",
        alpha=0.6,
        label="relay (firmware rules)",
    )
    low.plot(
        hours,
        [0.5 if s else 0 for s in base_states],
        color="black",
        linewidth=0.7,
        drawstyle="steps-post",
        label="relay (naive baseline), half height",
    )
    low.set_yticks([0, 1])
    low.set_yticklabels(["off", "on"])
    low.set_xlabel("local time (h)")
    low.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traces", default=os.path.join(ROOT, "..", "shared", "traces"))
    p.add_argument("--heater-w", type=float, default=2000)
    p.add_argument("--poll-s", type=float, default=1)
    p.add_argument("--base-load-w", type=float, default=300, help="added on PV-only days")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "replay"))
    p.add_argument("--no-plots", action="store_true")
    args = p.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.traces, "*.csv")))
    if not files:
        print("no trace files (*.csv) in %s" % args.traces)
        return 1
    os.makedirs(args.out, exist_ok=True)
    ours_params = defaults()
    head = (
        "| day | ideal kWh | diverted kWh | from surplus | from grid | export left | switches "
        "| baseline diverted | baseline from grid | baseline switches |"
    )
    lines = [head, "|" + "---|" * 10]
    total = {k: 0.0 for k in ("ideal", "div", "grid", "exp", "sw", "bdiv", "bgrid", "bsw")}
    for path in files:
        name = os.path.basename(path)[:-4]
        samples, pv_only = series(path, args.poll_s, args.base_load_w)
        ideal = (
            sum(min(max(s[1] - s[2], 0.0), args.heater_w) for s in samples) * args.poll_s / 3600
        )
        ours, states = run(samples, ours_params, args.heater_w, args.poll_s)
        base, base_states = run(samples, BASELINE, args.heater_w, args.poll_s)
        if not args.no_plots:
            plot_day(
                name,
                samples,
                states,
                base_states,
                args.heater_w,
                os.path.join(args.out, name + ".png"),
            )
        lines.append(
            "| %s%s | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %.2f | %.2f | %d |"
            % (
                name,
                " (PV only)" if pv_only else "",
                ideal / 1000,
                ours["diverted"] / 1000,
                (ours["diverted"] - ours["grid"]) / 1000,
                ours["grid"] / 1000,
                ours["export"] / 1000,
                ours["switches"],
                base["diverted"] / 1000,
                base["grid"] / 1000,
                base["switches"],
            )
        )
        for k, v in (
            ("ideal", ideal),
            ("div", ours["diverted"]),
            ("grid", ours["grid"]),
            ("exp", ours["export"]),
            ("sw", ours["switches"]),
            ("bdiv", base["diverted"]),
            ("bgrid", base["grid"]),
            ("bsw", base["switches"]),
        ):
            total[k] += v
    lines.append(
        "| **total (%d days)** | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %.1f | %.1f | %d |"
        % (
            len(files),
            total["ideal"] / 1000,
            total["div"] / 1000,
            (total["div"] - total["grid"]) / 1000,
            total["grid"] / 1000,
            total["exp"] / 1000,
            total["sw"],
            total["bdiv"] / 1000,
            total["bgrid"] / 1000,
            total["bsw"],
        )
    )
    intro = (
        "Replay: heater %d W, poll %g s, base load %d W on PV-only days; firmware defaults "
        "against the naive baseline (on at export >= heater, off at any import, 10 s delays)."
        % (args.heater_w, args.poll_s, args.base_load_w)
    )
    text = intro + "\n\n" + "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text)
    print(text)
    share = (total["div"] - total["grid"]) / total["ideal"] if total["ideal"] else 0
    bshare = (total["bdiv"] - total["bgrid"]) / total["ideal"] if total["ideal"] else 0
    print(
        "surplus captured: firmware %.0f%% of the ideal with %.0f%% of its heat from the grid; "
        "baseline %.0f%% with %.0f%% from the grid"
        % (
            100 * share,
            100 * total["grid"] / max(total["div"], 1),
            100 * bshare,
            100 * total["bgrid"] / max(total["bdiv"], 1),
        )
    )
    print("plots and summary: %s" % os.path.relpath(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
