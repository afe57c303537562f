"""The best possible relay schedule, by exact dynamic programming with perfect foresight.

The model: one-second steps; in each second the heater either runs at its power P or not; if it
runs in a second whose export without the heater is e, it takes s = min(max(e, 0), P) from the
surplus and g = P - s from the grid. The relay must stay on at least min_on and off at least
min_off seconds after each switch; the day starts off with no minimum time pending (as the
replay's firmware, booted long ago). Readings are exact, the heater always draws (no tank
limit). A schedule is judged by surplus - lam * grid: lam says how much a grid kWh hurts against
a surplus kWh. For a given lam the optimum runs the heater over stretches whose s is, on
balance, above P * lam / (1 + lam).

The state at time t is (on or off, seconds since the last switch, capped at the minimum time).
Inside one on (or off) stretch the value only shifts, so the solver keeps, for each stretch start
a, the value at a minus the cumulative reward up to a, and a running maximum over the starts that
are old enough to switch: O(1) numpy work per second for every (day, lam) pair at once.

Sweeping lam traces the concave hull of the (grid, surplus) frontier. at_grid() finds, by a
geometric bisection on lam, the surplus the optimum takes with a given grid import; where the
frontier jumps over that import, it interpolates linearly between the two hull points around it
(an upper bound of the true, non-convex frontier, so the shares measured against it are
conservative) and says so.
"""

import numpy as np

LAM_MIN = 1e-3
LAM_MAX = 1e4


def solve(surplus_w, power_w, lams, min_on_s, min_off_s):
    """surplus_w: (D, T) what the heater could take from the surplus each second (0..P);
    power_w: (D,) heater power; lams: (D, K). -> (surplus_wh, grid_wh, switches), each (D, K).
    Pad shorter days at the start with zeros (the optimum stays off there)."""
    s = np.asarray(surplus_w, dtype=float)
    n_days, n_t = s.shape
    lam = np.asarray(lams, dtype=float)
    p = np.asarray(power_w, dtype=float)[:, None]
    m_on, m_off = max(1, int(min_on_s)), max(1, int(min_off_s))
    cum_s = np.concatenate([np.zeros((n_days, 1)), np.cumsum(s, axis=1)], axis=1)
    gain, cost = 1.0 + lam, lam * p  # reward of an on-second: gain * s - cost
    shape = lam.shape
    # Best "on since a" over the starts old enough to switch off (value, grid, switches)...
    sa, sa_g, sa_n = np.full(shape, -np.inf), np.zeros(shape), np.zeros(shape)
    # ... and "off since b", old enough to switch on; the start of the day counts as long off.
    sb, sb_g, sb_n = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    ra = [np.full((m_on,) + shape, -np.inf), np.zeros((m_on,) + shape), np.zeros((m_on,) + shape)]
    rb = [np.full((m_off,) + shape, -np.inf), np.zeros((m_off,) + shape)]
    rb.append(np.zeros((m_off,) + shape))
    for t in range(n_t):
        ia, ib = t % m_on, t % m_off
        a, b = ra[0][ia], rb[0][ib]  # the stretches that started min_on/min_off ago
        better = a > sa
        if better.any():
            sa = np.where(better, a, sa)
            sa_g = np.where(better, ra[1][ia], sa_g)
            sa_n = np.where(better, ra[2][ia], sa_n)
        better = b > sb
        if better.any():
            sb = np.where(better, b, sb)
            sb_g = np.where(better, rb[1][ib], sb_g)
            sb_n = np.where(better, rb[2][ib], sb_n)
        cs = cum_s[:, t, None]
        reward = gain * cs - cost * t
        grid = p * t - cs
        ra[0][ia] = sb - reward  # switch on now
        ra[1][ia] = sb_g - grid
        ra[2][ia] = sb_n + 1
        rb[0][ib] = sa + reward  # switch off now
        rb[1][ib] = sa_g + grid
        rb[2][ib] = sa_n
    # The day ends: no minimum time applies to the last stretch.
    cs = cum_s[:, n_t, None]
    reward, grid = gain * cs - cost * n_t, p * n_t - cs
    on_v = np.concatenate([sa[None], ra[0]])
    on_i = np.argmax(on_v, axis=0)
    on_g = np.take_along_axis(np.concatenate([sa_g[None], ra[1]]), on_i[None], 0)[0] + grid
    on_n = np.take_along_axis(np.concatenate([sa_n[None], ra[2]]), on_i[None], 0)[0]
    on_v = np.max(on_v, axis=0) + reward
    off_v = np.concatenate([sb[None], rb[0]])
    off_i = np.argmax(off_v, axis=0)
    off_g = np.take_along_axis(np.concatenate([sb_g[None], rb[1]]), off_i[None], 0)[0]
    off_n = np.take_along_axis(np.concatenate([sb_n[None], rb[2]]), off_i[None], 0)[0]
    off_v = np.max(off_v, axis=0)
    use_on = on_v > off_v
    value = np.where(use_on, on_v, off_v)
    grid_ws = np.where(use_on, on_g, off_g)
    surplus_ws = value + lam * grid_ws
    return surplus_ws / 3600, grid_ws / 3600, np.where(use_on, on_n, off_n).astype(int)


def stack(days):
    """[(surplus_w array, power_w)] -> (D, T) array padded at the start, (D,) powers."""
    n_t = max(len(d[0]) for d in days)
    s = np.zeros((len(days), n_t))
    for i, (row, _) in enumerate(days):
        s[i, n_t - len(row) :] = row
    return s, np.array([d[1] for d in days], dtype=float)


def at_lams(s, p, lams, min_on_s, min_off_s):
    """The optimum for each of a few lam values, every day: (surplus, grid, switches) (D, K)."""
    lam = np.tile(np.asarray(lams, dtype=float), (s.shape[0], 1))
    return solve(s, p, lam, min_on_s, min_off_s)


def at_grid(s, p, groups, targets_wh, min_on_s, min_off_s, k=24, rounds=3):
    """The optimum's surplus at a given grid import, for groups of days sharing one lam (a lam
    common to several days is what maximises their total for a total grid budget).

    groups: list of partitions, each an int array (D,) of group ids (-1: no group), so that a day
    can be alone in one partition and with others in the next; targets_wh: per partition, a dict
    group id -> grid Wh. Returns per partition a dict group id -> result dict: lam, surplus_wh,
    grid_wh (= the target where interpolated), switches, per-day surplus and grid at that lam
    (days of the group, in order), and "jump" (True where the frontier jumps over the target and
    the surplus is interpolated on the hull).
    """
    n_days = s.shape[0]
    n_part = len(groups)
    # lo/hi brackets per partition and day (a day's bracket is its group's).
    lo = np.full((n_days, n_part), LAM_MIN)
    hi = np.full((n_days, n_part), LAM_MAX)
    for _ in range(rounds):
        frac = np.linspace(0, 1, k)
        lam = np.exp(np.log(lo)[:, :, None] + (np.log(hi) - np.log(lo))[:, :, None] * frac)
        sur, grd, sw = solve(s, p, lam.reshape(n_days, -1), min_on_s, min_off_s)
        sur, grd, sw = (x.reshape(n_days, n_part, k) for x in (sur, grd, sw))
        out = []
        for j, part in enumerate(groups):
            res = {}
            for gid, target in targets_wh[j].items():
                rows = np.nonzero(part == gid)[0]
                g = grd[rows, j].sum(axis=0)  # non-increasing in lam
                su = sur[rows, j].sum(axis=0)
                above = np.nonzero(g >= target - 1e-9)[0]
                below = np.nonzero(g <= target + 1e-9)[0]
                i_lo = above[-1] if len(above) else 0
                i_hi = below[0] if len(below) else k - 1
                lam_lo, lam_hi = lam[rows[0], j, i_lo], lam[rows[0], j, i_hi]
                lo[rows, j], hi[rows, j] = lam_lo, max(lam_hi, lam_lo)
                res[gid] = _point(
                    target, g, su, sur[rows, j], grd[rows, j], sw[rows, j], i_lo, i_hi
                )
                res[gid]["lam"] = float(np.sqrt(lam_lo * lam_hi))
            out.append(res)
    return out


def _point(target, g, su, day_s, day_g, day_sw, i_lo, i_hi):
    """The hull point at grid = target between lam indexes i_lo (more grid) and i_hi."""
    if i_lo == i_hi or g[i_lo] - g[i_hi] < 1e-6:
        i = i_hi if g[i_hi] <= target + 1e-9 else i_lo
        return {
            "surplus_wh": float(su[i]),
            "grid_wh": float(g[i]),
            "switches": int(day_sw[:, i].sum()),
            "days_surplus_wh": day_s[:, i].tolist(),
            "days_grid_wh": day_g[:, i].tolist(),
            "jump": False,
        }
    if target >= g[i_lo]:
        f = 0.0  # the firmware imports more than the optimum at the smallest lam
    elif target <= g[i_hi]:
        f = 1.0
    else:
        f = (g[i_lo] - target) / (g[i_lo] - g[i_hi])
    mix = lambda x: (1 - f) * x[..., i_lo] + f * x[..., i_hi]  # noqa: E731
    return {
        "surplus_wh": float(mix(su)),
        "grid_wh": float(mix(g)),
        "switches": int(round(mix(day_sw).sum())),
        "days_surplus_wh": mix(day_s).tolist(),
        "days_grid_wh": mix(day_g).tolist(),
        # A gap of more than 1 % (or 20 Wh) left after the bisection is a real jump.
        "jump": bool(g[i_lo] - g[i_hi] > max(20.0, 0.01 * target)),
    }
