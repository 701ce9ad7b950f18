"""The model behind `lhrule.synth.gen`: numpy draws of one block of shops, no I/O.

Every shop gets a size (log-normal, few big shops and many small) and a service profile: an
overall quality q in (0, 1) (1 = excellent) and, per dimension, q plus noise, so a shop can reply
fast yet ship late. Every rate the rulebooks measure is a function of these: reply delays, the
reply kind mix, pickup delays, refund and after-sale task handling times, complaint and help
rates, satisfaction.

Times are int64 seconds of naive local (Asia/Shanghai) wall-clock time, as if it were UTC;
`NA` (-1) is a missing value. The data is a snapshot taken at the end of the last day: nothing
after it is known, so later timestamps become missing (a refund completing later is `pending`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist
from typing import Any

import numpy as np

MIN, HOUR, DAY = 60, 3600, 86400
NA = -1
SEQ_WIDTH = 7  # digits of the per-shop sequence in event ids (`o000123-0000042`)

# name, weight, size factor, median amount (yuan), refund factor, P(order ships),
# platform weights (taobao, tmall, tejia)
CATEGORIES = [
    ("女装/女士精品", 18, 1.0, 180, 1.6, 1.0, (0.50, 0.35, 0.15)),
    ("男装", 8, 1.0, 200, 1.3, 1.0, (0.50, 0.40, 0.10)),
    ("食品", 12, 1.1, 60, 0.6, 1.0, (0.40, 0.40, 0.20)),
    ("生鲜", 4, 0.9, 90, 0.9, 1.0, (0.40, 0.40, 0.20)),
    ("美妆", 10, 1.0, 160, 0.8, 1.0, (0.40, 0.50, 0.10)),
    ("母婴", 8, 1.0, 130, 0.9, 1.0, (0.45, 0.45, 0.10)),
    ("家居日用", 8, 1.0, 50, 0.8, 1.0, (0.40, 0.30, 0.30)),
    ("家具", 5, 0.5, 1500, 1.1, 1.0, (0.50, 0.45, 0.05)),
    ("数码", 8, 0.9, 1200, 1.0, 1.0, (0.40, 0.50, 0.10)),
    ("家电", 5, 0.8, 1800, 0.9, 1.0, (0.30, 0.65, 0.05)),
    ("运动户外", 6, 0.9, 260, 1.1, 1.0, (0.50, 0.40, 0.10)),
    ("宠物", 4, 0.9, 100, 0.8, 1.0, (0.50, 0.35, 0.15)),
    ("新车", 1.2, 0.15, 5000, 0.5, 0.1, (0.00, 1.00, 0.00)),
    ("二手车", 1.0, 0.1, 30000, 0.4, 0.1, (0.50, 0.50, 0.00)),
]
CAT_NAMES = [c[0] for c in CATEGORIES]
_CAT_W = np.array([c[1] for c in CATEGORIES]) / sum(c[1] for c in CATEGORIES)
_CAT_SIZE = np.array([c[2] for c in CATEGORIES])
_CAT_AMOUNT = np.array([c[3] for c in CATEGORIES], dtype=float)
_CAT_REFUND = np.array([c[4] for c in CATEGORIES])
_CAT_SHIPS = np.array([c[5] for c in CATEGORIES])
_CAT_PLAT_CUM = np.cumsum([c[6] for c in CATEGORIES], axis=1)
PLATFORMS = ["taobao", "tmall", "tejia"]

# province, longitude, latitude of its capital, weight as a shop's home, weight as a destination
PROVINCES = [
    ("北京市", 116.4, 39.9, 4, 4), ("天津市", 117.2, 39.1, 1, 2), ("河北省", 114.5, 38.0, 3, 5),
    ("山西省", 112.5, 37.9, 0.5, 2.5), ("内蒙古自治区", 111.7, 40.8, 0.3, 1.8),
    ("辽宁省", 123.4, 41.8, 1, 3), ("吉林省", 125.3, 43.9, 0.3, 1.8), ("黑龙江省", 126.6, 45.8, 0.3, 2.3),
    ("上海市", 121.5, 31.2, 8, 5), ("江苏省", 118.8, 32.1, 12, 8), ("浙江省", 120.2, 30.3, 25, 7),
    ("安徽省", 117.3, 31.9, 2, 4), ("福建省", 119.3, 26.1, 7, 3.5), ("江西省", 115.9, 28.7, 1, 3),
    ("山东省", 117.0, 36.7, 5, 7), ("河南省", 113.6, 34.8, 3, 6), ("湖北省", 114.3, 30.6, 2, 4.5),
    ("湖南省", 112.9, 28.2, 1.5, 4.5), ("广东省", 113.3, 23.1, 22, 11), ("广西壮族自治区", 108.3, 22.8, 0.8, 3),
    ("海南省", 110.3, 20.0, 0.3, 1), ("重庆市", 106.5, 29.6, 1, 3), ("四川省", 104.1, 30.7, 2, 6),
    ("贵州省", 106.7, 26.6, 0.3, 2), ("云南省", 102.7, 25.0, 0.5, 2.5), ("西藏自治区", 91.1, 29.7, 0.05, 0.3),
    ("陕西省", 108.9, 34.3, 1, 3), ("甘肃省", 103.8, 36.1, 0.2, 1.5), ("青海省", 101.8, 36.6, 0.05, 0.4),
    ("宁夏回族自治区", 106.3, 38.5, 0.1, 0.5), ("新疆维吾尔自治区", 87.6, 43.8, 0.2, 1.5),
]
PROVINCE_NAMES = [p[0] for p in PROVINCES]
_LONLAT = np.radians([[p[1], p[2]] for p in PROVINCES])
_HOME_W = np.array([p[3] for p in PROVINCES]) / sum(p[3] for p in PROVINCES)
_RECV_W = np.array([p[4] for p in PROVINCES]) / sum(p[4] for p in PROVINCES)
# great-circle distance between capitals, km
_DIST_KM = 6371 * np.arccos(np.clip(
    np.sin(_LONLAT[:, None, 1]) * np.sin(_LONLAT[None, :, 1])
    + np.cos(_LONLAT[:, None, 1]) * np.cos(_LONLAT[None, :, 1]) * np.cos(_LONLAT[:, None, 0] - _LONLAT[None, :, 0]),
    -1, 1))

# relative activity per hour of day, 0..23
_HOURS_CONSULT = np.array([1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.6, 1.5, 3.5, 5.5, 6.5, 6.5,
                           5.0, 5.5, 6.0, 6.0, 5.5, 5.0, 4.5, 5.5, 6.5, 7.0, 6.0, 3.2])
_HOURS_ORDER = np.array([1.5, 0.8, 0.4, 0.2, 0.2, 0.3, 0.6, 1.5, 3.0, 4.5, 5.5, 5.5,
                         5.0, 5.0, 5.0, 5.0, 4.5, 4.5, 4.5, 5.5, 7.0, 7.5, 7.0, 4.0])
# minutes of day around the rules' edges: 07:59/08:00, 22:58..23:00, and just before midnight
_EDGE_MINUTES = np.array([7 * 60 + 59, 8 * 60, 22 * 60 + 58, 22 * 60 + 59, 23 * 60, *range(23 * 60 + 50, 24 * 60)])

REPLY_KINDS = ["human", "bot", "auto", "quick"]
LEVELS = ["very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied"]
REFUND_KINDS = ["refund_only", "return_refund"]
REFUND_STATUS = ["success", "closed", "pending"]
REASONS_BEFORE = ["不想要了", "拍错/多拍", "未按约定时间发货", "协商一致退款"]
REASONS_AFTER = ["七天无理由退换货", "质量问题", "少件/漏发", "发错货", "商品与描述不符", "尺码不合适", "快递一直未送达"]
REASONS = REASONS_BEFORE + REASONS_AFTER
TOPICS = ["售后超时未处理", "催发货", "物流停滞", "退款纠纷", "商品质量问题", "商家不回复", "发票问题"]
_TOPIC_W = np.array([15, 20, 18, 17, 14, 11, 5]) / 100
APPEAL_INDICATORS = ["24小时揽收及时率", "纠纷退款率"]
FM_INDICATORS = ["24小时揽收及时率;物流到货时长", "24小时揽收及时率", "物流到货时长"]
# regions that see typhoons, floods or snowstorms, weighted so notices cover many orders
_FM_REGIONS = np.array([PROVINCE_NAMES.index(p) for p in ("浙江省", "广东省", "福建省", "江苏省", "河南省", "四川省", "海南省", "黑龙江省")])
_FM_W = np.array([25, 25, 15, 10, 10, 7, 4, 4]) / 100
_SUB_NAMES = [f"客服{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
_NAME_A = ["江南", "小鹿", "云朵", "橙子", "初见", "木槿", "星河", "森屿", "半夏", "暖阳", "青柠", "山茶", "锦绣", "九月", "南风", "米粒"]
_NAME_B = {"taobao": ["小店", "工作室", "铺子", "优选", "杂货铺"], "tmall": ["旗舰店", "专营店", "专卖店", "官方旗舰店"],
           "tejia": ["工厂店", "特价店", "源头工厂", "批发店"]}

# volumes, per shop-day at size 1 before the day factor
ORDER_RATE, CONSULT_RATE = 14.0, 16.0
SIZE_SIGMA, SIZE_CAP = 1.2, 40.0
EDGE_P, REPEAT_P, RATING_P, REVIEW_P = 0.03, 0.10, 0.15, 0.35
TASK_P = 0.015  # platform after-sale tasks per order: TASK_P (best shops) to 5 TASK_P (worst)


@dataclass(frozen=True)
class Col:
    """One column of a block: `kind` says how gen.py encodes `values` (see gen.COLUMN_TYPES)."""

    kind: str  # shop | id | buyer | label | text | ts | bool | dec | int8 | date
    values: Any
    vocab: list[str] | None = None  # label: the strings the codes index
    prefix: str = ""  # id: its letter(s)
    shop: np.ndarray | None = None  # id: the shop index each sequence number belongs to


def mean_size() -> float:
    """The expected shop size: E[min(log-normal, cap)] times the category factors' mean."""
    phi = NormalDist().cdf
    mu, sigma = -SIZE_SIGMA**2 / 2, SIZE_SIGMA
    log_cap = math.log(SIZE_CAP)
    capped = phi((log_cap - mu - sigma**2) / sigma) + SIZE_CAP * (1 - phi((log_cap - mu) / sigma))
    return capped * float(_CAT_W @ _CAT_SIZE)


def day_factors(start_ordinal: int, days: int) -> np.ndarray:
    """Activity per day: a weekly rhythm, the 618 and 双11 sales."""
    out = np.empty(days)
    for i in range(days):  # per day, not per event
        d = date.fromordinal(start_ordinal + i)
        f = (0.96, 0.96, 0.97, 0.98, 1.02, 1.06, 1.05)[d.weekday()]
        if (d.month, d.day) in ((6, 18), (11, 11)):
            f *= 2.2
        elif (d.month == 6 and d.day < 18) or (d.month == 11 and d.day < 11):
            f *= 1.15
        out[i] = f
    return out


_RES = 1 << 14
_Z = np.array([NormalDist().inv_cdf((i + 0.5) / _RES) for i in range(_RES)], np.float32)


def _table(weights) -> np.ndarray:
    """A lookup table for fast draws from fixed categorical weights (to 1/16384)."""
    cum = np.cumsum(weights) / np.sum(weights)
    return np.minimum(np.searchsorted(cum, (np.arange(_RES) + 0.5) / _RES), len(cum) - 1)


def _draw(rng: np.random.Generator, table: np.ndarray, n: int) -> np.ndarray:
    return table[rng.integers(0, len(table), n)]


def _u(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.random(n, dtype=np.float32)


_HOME_TABLE, _RECV_TABLE = _table(_HOME_W), _table(_RECV_W)
_SIDE_TABLE = _table(np.where(_CAT_SHIPS < 1, 0, _CAT_W))  # a shop's other categories: no cars
_CONSULT_HOUR_TABLE, _ORDER_HOUR_TABLE, _TOPIC_TABLE = _table(_HOURS_CONSULT), _table(_HOURS_ORDER), _table(_TOPIC_W)


def _lerp_log(q: np.ndarray, best: float, worst: float) -> np.ndarray:
    """A median that moves geometrically from `worst` (q=0) to `best` (q=1)."""
    return np.exp(np.log(worst) + (np.log(best) - np.log(worst)) * q)


def _pick(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """Categorical draws, one per row of cumulative probabilities `cum` (n, k)."""
    return (_u(rng, len(cum))[:, None] > cum[:, :-1]).sum(axis=1)


def _mix(rng: np.random.Generator, q: np.ndarray, good: list[float], bad: list[float]) -> np.ndarray:
    """Categorical draws from the mixture q·good + (1-q)·bad."""
    g, b = np.cumsum(good) / sum(good), np.cumsum(bad) / sum(bad)
    return _pick(rng, q[:, None] * g + (1 - q[:, None]) * b)


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int) -> np.ndarray:
    return (median * np.exp(sigma * _draw(rng, _Z, n))).astype(np.int64)


def _cut(t: np.ndarray, cutoff: int) -> np.ndarray:
    return np.where((t >= 0) & (t <= cutoff), t, NA)


@dataclass
class Shops:
    gidx: np.ndarray
    cat: np.ndarray
    plat: np.ndarray
    size: np.ndarray
    home: np.ndarray
    n_sub: np.ndarray
    night: np.ndarray  # staffs customer service at night
    bot: np.ndarray  # uses 店小蜜
    q: dict[str, np.ndarray]


def draw_shops(rng: np.random.Generator, gidx: np.ndarray) -> Shops:
    n = len(gidx)
    # systematic sampling: every block holds each category in proportion, rare ones (新车) included
    cat = np.searchsorted(np.cumsum(_CAT_W), (rng.random() + np.arange(n)) / n)
    cat = rng.permutation(np.minimum(cat, len(CATEGORIES) - 1))
    plat = _pick(rng, _CAT_PLAT_CUM[cat])
    # stratified within the block, so a block's total volume (and the dataset's) varies little
    z = np.interp((rng.permutation(n) + rng.random(n)) / n, (np.arange(_RES) + 0.5) / _RES, _Z)
    size = np.minimum(np.exp(SIZE_SIGMA * z - SIZE_SIGMA**2 / 2), SIZE_CAP) * _CAT_SIZE[cat]
    base = rng.beta(1.1, 1.1, n)
    q = {k: np.clip(base + 0.18 * rng.standard_normal(n), 0.01, 0.99)
         for k in ("consult", "logistics", "after", "dispute", "sat", "item")}
    n_sub = np.clip(1 + (size * 1.5 + 2 * _u(rng, n)).astype(int), 1, len(_SUB_NAMES))
    night = _u(rng, n) < 0.2 + 0.3 * q["consult"]
    return Shops(gidx, cat, plat, size, _draw(rng, _HOME_TABLE, n), n_sub, night, _u(rng, n) < 0.5, q)


def shop_table(rng: np.random.Generator, sh: Shops) -> dict[str, Col]:
    n = len(sh.gidx)
    a, b = rng.integers(0, len(_NAME_A), n), rng.integers(0, 60, n)
    names = np.array([_NAME_A[i] + CAT_NAMES[c].split("/")[0] + _NAME_B[PLATFORMS[p]][j % len(_NAME_B[PLATFORMS[p]])]
                      for i, c, p, j in zip(a, sh.cat, sh.plat, b)], dtype=object)  # per shop, not per event
    names[_u(rng, n) < 0.03] = None
    return {"shop_id": Col("shop", sh.gidx), "name": Col("text", names),
            "main_category": Col("label", sh.cat, CAT_NAMES), "platform": Col("label", sh.plat, PLATFORMS)}


def _cells(rng: np.random.Generator, rate: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts per (shop, day) → one (shop, day) pair per event, grouped by shop."""
    cnt = rng.poisson(np.outer(rate, factors)).ravel()
    cell = np.repeat(np.arange(cnt.size), cnt)
    return cell // len(factors), cell % len(factors)


def _time_of_day(rng: np.random.Generator, hours: np.ndarray, n: int) -> np.ndarray:
    return _draw(rng, hours, n) * HOUR + rng.integers(0, HOUR, n)


def _buyers(rng: np.random.Generator, sh: Shops, shop: np.ndarray) -> np.ndarray:
    """Buyer numbers: mostly a shop's own customers (some coming back), some from anywhere."""
    pool = (300 + 3000 * sh.size[shop]).astype(np.int64)
    local = (pool * _u(rng, len(shop)) ** 2).astype(np.int64)
    own = (sh.gidx[shop] * 1_000_003 + local) % 100_000_000
    return np.where(_u(rng, len(shop)) < 0.1, rng.integers(0, 100_000_000, len(shop)), own)


def _order(shop: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Row order by shop, then time (stable, so equal times keep their draw order)."""
    return np.argsort(shop.astype(np.int64) << 40 | (t - t.min() if len(t) else t), kind="stable")


def _seq(shop: np.ndarray, n_shops: int) -> np.ndarray:
    """1-based position of each row within its shop (rows sorted by shop)."""
    counts = np.bincount(shop, minlength=n_shops)
    return np.arange(1, len(shop) + 1) - (np.cumsum(counts) - counts)[shop]


def _take(cols: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in cols.items()}


def consultations(rng: np.random.Generator, sh: Shops, day0: np.ndarray, factors: np.ndarray, cutoff: int):
    n_shops = len(sh.gidx)
    shop, day = _cells(rng, CONSULT_RATE * sh.size, factors)
    tod = _time_of_day(rng, _CONSULT_HOUR_TABLE, len(shop))
    edge = _u(rng, len(shop)) < EDGE_P
    tod[edge] = _EDGE_MINUTES[rng.integers(0, len(_EDGE_MINUTES), edge.sum())] * MIN + rng.integers(0, MIN, edge.sum())
    sub = (_u(rng, len(shop)) * sh.n_sub[shop]).astype(np.int64)
    buyer = _buyers(rng, sh, shop)
    # a buyer asking the same sub-account again later that day: a consultation of its own
    rep = np.flatnonzero(_u(rng, len(shop)) < REPEAT_P)
    rep_tod = tod[rep] + MIN + rng.exponential(40 * MIN, len(rep)).astype(np.int64)
    rep, rep_tod = rep[rep_tod < DAY], rep_tod[rep_tod < DAY]
    shop, day, sub, buyer = (np.concatenate([a, a[rep]]) for a in (shop, day, sub, buyer))
    tod = np.concatenate([tod, rep_tod])
    asked = day0[day] + tod
    n = len(shop)

    qc = sh.q["consult"]
    p_none = 0.01 + 0.12 * (1 - qc)
    p_bot = np.where(sh.bot, 0.1 + 0.3 * qc, 0.0)
    p_auto, p_quick = 0.02 + 0.10 * (1 - qc), 0.02 + 0.06 * (1 - qc)
    p_human = 1 - p_none - p_bot - p_auto - p_quick
    cum = np.cumsum(np.stack([p_none, p_human, p_bot, p_auto, p_quick], axis=1), axis=1)
    kind = _pick(rng, cum[shop]) - 1  # -1 none, then REPLY_KINDS
    human_delay = _lognormal(rng, _lerp_log(qc, 12, 600)[shop], 1.0, n) + 3
    # nobody on duty at night: human replies wait for 08:00, then the morning backlog
    off = ((tod < 8 * HOUR) | (tod >= 23 * HOUR)) & ~sh.night[shop]
    morning = day0[day] + np.where(tod >= 23 * HOUR, DAY, 0) + 8 * HOUR
    human_at = np.where(off, morning + _lognormal(rng, 300, 1.0, n), asked + human_delay)
    machine_at = asked + rng.integers(1, 12, n)
    first = np.where(kind == 0, human_at, np.where(kind > 0, machine_at, NA))
    later_human = (kind > 0) & (_u(rng, n) < 0.55)
    first_human = np.where(kind == 0, human_at, np.where(later_human, np.maximum(human_at, machine_at + 20), NA))
    blocked = _u(rng, n) < (0.005 + 0.035 * (1 - qc))[shop]
    silent = blocked & (_u(rng, n) < 0.6)
    first, first_human, kind = (np.where(silent, NA, a) for a in (first, first_human, kind))
    first, first_human = _cut(first, cutoff), _cut(first_human, cutoff)
    kind = np.where(first == NA, NA, kind)

    keep = asked <= cutoff
    o = _order(shop[keep], asked[keep])
    c = _take(dict(shop=shop, buyer=buyer, sub=sub, asked=asked, first=first, kind=kind,
                   first_human=first_human, blocked=blocked), np.flatnonzero(keep)[o])
    table = {"consultation_id": Col("id", _seq(c["shop"], n_shops), prefix="c", shop=sh.gidx[c["shop"]]),
             "shop_id": Col("shop", sh.gidx[c["shop"]]), "buyer_id": Col("buyer", c["buyer"]),
             "sub_account": Col("label", c["sub"], _SUB_NAMES), "asked_at": Col("ts", c["asked"]),
             "first_reply_at": Col("ts", c["first"]), "first_reply_kind": Col("label", c["kind"], REPLY_KINDS),
             "first_human_reply_at": Col("ts", c["first_human"]), "blocked_before_reply": Col("bool", c["blocked"])}
    return table, c


def ratings(rng: np.random.Generator, sh: Shops, c: dict[str, np.ndarray], cutoff: int) -> dict[str, Col]:
    idx = np.flatnonzero(~c["blocked"] & (_u(rng, len(c["shop"])) < RATING_P))
    shop = c["shop"][idx]
    base = np.where(c["first"][idx] >= 0, c["first"][idx], c["asked"][idx])
    rated = base + np.minimum(_lognormal(rng, 20 * MIN, 1.5, len(idx)), 2 * DAY)
    answered = c["kind"][idx] >= 0
    level = _mix(rng, sh.q["sat"][shop] * np.where(answered, 1.0, 0.3),
                 [80, 15, 3, 1, 1], [30, 25, 20, 12, 13])
    sub = np.where(_u(rng, len(idx)) < 0.03, NA, c["sub"][idx])
    keep = np.flatnonzero(rated <= cutoff)
    o = keep[_order(shop[keep], rated[keep])]
    shop = shop[o]
    return {"rating_id": Col("id", _seq(shop, len(sh.gidx)), prefix="rt", shop=sh.gidx[shop]),
            "shop_id": Col("shop", sh.gidx[shop]), "buyer_id": Col("buyer", c["buyer"][idx][o]),
            "sub_account": Col("label", sub[o], _SUB_NAMES), "rated_at": Col("ts", rated[o]),
            "level": Col("label", level[o], LEVELS)}


def _open_hours(rng: np.random.Generator, t: np.ndarray, opens: int, closes: int) -> np.ndarray:
    """Move times outside a carrier's working hours to the next opening, plus a little queue."""
    tod = t % DAY
    nxt = t - tod + np.where(tod >= closes * HOUR, DAY, 0) + opens * HOUR + rng.integers(0, 2 * HOUR, len(t))
    return np.where((tod < opens * HOUR) | (tod >= closes * HOUR), nxt, t)


def _in_notice(fm: list[tuple[int, int, int]], region: np.ndarray, day: np.ndarray) -> np.ndarray:
    hit = np.zeros(len(region), dtype=bool)
    for r, first, last in fm:  # per notice, a handful
        hit |= (region == r) & (day >= first) & (day <= last)
    return hit


def orders(rng: np.random.Generator, sh: Shops, day0: np.ndarray, factors: np.ndarray, cutoff: int,
           fm: list[tuple[int, int, int]]):
    n_shops = len(sh.gidx)
    shop, day = _cells(rng, ORDER_RATE * sh.size, factors)
    n = len(shop)
    paid = day0[day] + _time_of_day(rng, _ORDER_HOUR_TABLE, n)
    o = _order(shop, paid)
    shop, day, paid = shop[o], day[o], paid[o]
    side = (_u(rng, n) < 0.1) & (_CAT_SHIPS[sh.cat[shop]] == 1)
    cat = np.where(side, _draw(rng, _SIDE_TABLE, n), sh.cat[shop])
    yuan = _CAT_AMOUNT[cat] * np.exp(0.7 * _draw(rng, _Z, n))
    ending = _u(rng, n)  # 199.00, 198.90, or any cents
    cents = np.where(ending < 0.5, np.ceil(yuan) * 100, np.where(ending < 0.75, np.ceil(yuan) * 100 - 10, yuan * 100))
    cents = np.maximum(cents.astype(np.int64), 1)

    ql = sh.q["logistics"][shop]
    ship_r = np.where(_u(rng, n) < 0.9, sh.home[shop], _draw(rng, _HOME_TABLE, n))
    recv_r = _draw(rng, _RECV_TABLE, n)
    shipped = paid + _lognormal(rng, _lerp_log(ql, 3 * HOUR, 30 * HOUR), 0.8, n)
    picked = _open_hours(rng, shipped + _lognormal(rng, 2 * HOUR, 0.7, n), 8, 20)
    picked += np.where(_in_notice(fm, ship_r, day), rng.integers(DAY, 4 * DAY, n), 0)
    transit = (12 + _DIST_KM[ship_r, recv_r] / 35) * HOUR * np.exp(0.25 * _draw(rng, _Z, n))
    delivered = _open_hours(rng, picked + transit.astype(np.int64), 8, 21)
    delivered += np.where(_in_notice(fm, recv_r, day), rng.integers(DAY, 3 * DAY, n), 0)
    ships = _u(rng, n) < _CAT_SHIPS[cat]
    never = ~ships | (_u(rng, n) < 0.003 + 0.03 * (1 - ql))
    shipped = np.where(~ships | (never & (_u(rng, n) < 0.5)), NA, shipped)
    picked = np.where(never, NA, picked)
    delivered = np.where(never | (_u(rng, n) < 0.002), NA, delivered)
    od = dict(shop=shop, seq=_seq(shop, n_shops), day=day, paid=paid, shipped=shipped, picked=picked,
              delivered=delivered, ship_r=ship_r, recv_r=recv_r, cents=cents, ships=ships, cat=cat)
    gone = _u(rng, 2 * n).reshape(2, n) < 0.01
    table = {"order_id": Col("id", od["seq"], prefix="o", shop=sh.gidx[shop]), "shop_id": Col("shop", sh.gidx[shop]),
             "buyer_id": Col("buyer", _buyers(rng, sh, shop)), "category": Col("label", cat, CAT_NAMES),
             "paid_at": Col("ts", paid), "shipped_at": Col("ts", _cut(shipped, cutoff)),
             "picked_up_at": Col("ts", _cut(picked, cutoff)), "delivered_at": Col("ts", _cut(delivered, cutoff)),
             "ship_region": Col("label", np.where(gone[0] | ~ships, NA, ship_r), PROVINCE_NAMES),
             "recv_region": Col("label", np.where(gone[1], NA, recv_r), PROVINCE_NAMES), "amount": Col("dec", cents)}
    return table, od


def _sorted(sh: Shops, idx_shop: np.ndarray, t: np.ndarray, cutoff: int) -> np.ndarray:
    keep = np.flatnonzero(t <= cutoff)
    return keep[_order(idx_shop[keep], t[keep])]


def _order_ref(sh: Shops, od: dict, oi: np.ndarray) -> Col:
    if len(od["seq"]) == 0:  # only order-less rows can refer to no order
        return Col("id", np.full(len(oi), NA), prefix="o", shop=np.zeros(len(oi), np.int64))
    safe = np.maximum(oi, 0)
    return Col("id", np.where(oi >= 0, od["seq"][safe], NA), prefix="o", shop=sh.gidx[od["shop"][safe]])


def reviews(rng: np.random.Generator, sh: Shops, od: dict, cutoff: int) -> dict[str, Col]:
    n = len(od["shop"])
    oi = np.flatnonzero(np.where(od["ships"], od["delivered"] >= 0, True) & (_u(rng, n) < REVIEW_P))
    shop = od["shop"][oi]
    created = np.where(od["ships"][oi], od["delivered"][oi] + HOUR, od["paid"][oi] + 3 * DAY)
    created = created + rng.exponential(3 * DAY, len(oi)).astype(np.int64)
    slow = np.where(od["ships"][oi], od["delivered"][oi] - od["paid"][oi] > 4 * DAY, False)
    good, bad = [1, 3, 10, 15, 71], [12, 8, 15, 20, 45]  # scores 1..5
    scores = {k: _mix(rng, q, good, bad) + 1 for k, q in (
        ("item_score", sh.q["item"][shop]), ("service_score", sh.q["after"][shop]),
        ("logistics_score", sh.q["logistics"][shop] * np.where(slow, 0.5, 1.0)))}
    o = _sorted(sh, shop, created, cutoff)
    table = {"review_id": Col("id", _seq(shop[o], len(sh.gidx)), prefix="rv", shop=sh.gidx[shop[o]]),
             "shop_id": Col("shop", sh.gidx[shop[o]]), "order_id": _order_ref(sh, od, oi[o]),
             "created_at": Col("ts", created[o])}
    return table | {k: Col("int8", v[o].astype(np.int8)) for k, v in scores.items()}


def refunds(rng: np.random.Generator, sh: Shops, od: dict, cutoff: int):
    n = len(od["shop"])
    qa = sh.q["after"][od["shop"]]
    oi = np.flatnonzero(_u(rng, n) < (0.03 + 0.08 * (1 - qa)) * _CAT_REFUND[od["cat"]])
    m, shop = len(oi), od["shop"][oi]
    paid, shipped, picked, delivered = (od[k][oi] for k in ("paid", "shipped", "picked", "delivered"))
    qa, qd = sh.q["after"][shop], sh.q["dispute"][shop]
    before = (shipped < 0) | (_u(rng, m) < 0.3)
    until = np.where(shipped >= 0, shipped - paid, 3 * DAY)
    after_base = np.where(delivered >= 0, delivered, np.where(picked >= 0, picked, paid + 2 * DAY))
    requested = np.where(before, paid + (_u(rng, m) * until).astype(np.int64),
                         after_base + 10 * MIN + rng.exponential(2 * DAY, m).astype(np.int64))
    kind = np.where(before, 0, (_u(rng, m) < 0.6).astype(np.int64))
    intervened = _u(rng, m) < 0.02 + 0.15 * (1 - qd)
    against = intervened & (_u(rng, m) < 0.3 + 0.4 * (1 - qd))
    cancelled = ~intervened & (_u(rng, m) < 0.08)
    agreed = np.where((~intervened | (_u(rng, m) < 0.3)) & ~cancelled,
                      requested + _lognormal(rng, _lerp_log(qa, 20 * MIN, 30 * HOUR), 1.0, m), NA)
    no_return = _u(rng, m) < 0.1
    returned = np.where((kind == 1) & (agreed >= 0) & ~no_return, agreed + _lognormal(rng, 20 * HOUR, 0.8, m), NA)
    checked = _lognormal(rng, _lerp_log(qa, 2 * HOUR, 48 * HOUR), 0.8, m)  # the merchant confirms receipt
    received = returned + rng.integers(2 * DAY, 4 * DAY, m) + checked
    completed = np.select(
        [intervened, cancelled, kind == 0, no_return],
        [np.maximum(requested + rng.integers(2 * DAY, 10 * DAY, m), np.maximum(agreed, returned) + HOUR),
         requested + rng.integers(10 * MIN, 2 * DAY, m),
         agreed + rng.integers(0, 30 * MIN, m), agreed + 7 * DAY], received)
    closed = cancelled | ((kind == 1) & no_return & ~intervened) | (intervened & ~against & (_u(rng, m) < 0.5))
    status = np.where(completed > cutoff, 2, np.where(closed, 1, 0))
    partial = _u(rng, m) < 0.15
    paid_cents = od["cents"][oi]
    cents = np.where(partial, np.maximum(paid_cents * rng.uniform(0.1, 0.9, m), 1), paid_cents).astype(np.int64)
    nb = len(REASONS_BEFORE)
    reason = np.where(before, rng.integers(0, nb, m), nb + rng.integers(0, len(REASONS_AFTER), m))
    reason = np.where(_u(rng, m) < 0.08, NA, reason)
    o = _sorted(sh, shop, requested, cutoff)
    table = {"refund_id": Col("id", _seq(shop[o], len(sh.gidx)), prefix="rf", shop=sh.gidx[shop[o]]),
             "shop_id": Col("shop", sh.gidx[shop[o]]), "order_id": _order_ref(sh, od, oi[o]),
             "kind": Col("label", kind[o], REFUND_KINDS), "before_shipment": Col("bool", before[o]),
             "requested_at": Col("ts", requested[o]), "merchant_agreed_at": Col("ts", _cut(agreed[o], cutoff)),
             "buyer_returned_at": Col("ts", _cut(returned[o], cutoff)),
             "completed_at": Col("ts", _cut(completed[o], cutoff)), "status": Col("label", status[o], REFUND_STATUS),
             "platform_intervened": Col("bool", intervened[o]),
             "dispute_ruled_against_merchant": Col("bool", against[o]),
             "amount": Col("dec", cents[o]), "reason": Col("label", reason[o], REASONS)}
    return table, dict(oi=oi, against=against, ruled=completed)


def complaints(rng: np.random.Generator, sh: Shops, od: dict, cutoff: int) -> dict[str, Col]:
    qd = sh.q["dispute"][od["shop"]]
    oi = np.flatnonzero(_u(rng, len(qd)) < 0.002 + 0.015 * (1 - qd))
    m, shop, qd = len(oi), od["shop"][oi], qd[oi]
    filed = od["paid"][oi] + rng.integers(DAY, 20 * DAY, m)
    ruled = np.where(_u(rng, m) < 0.06, NA, filed + _lognormal(rng, 3 * DAY, 0.5, m))
    ruled = _cut(ruled, cutoff)
    by_merchant = _u(rng, m) < 0.2 + 0.4 * qd
    upheld = (ruled >= 0) & (_u(rng, m) < (0.2 + 0.5 * (1 - qd)) * np.where(by_merchant, 0.3, 1.0))
    ref = np.where(_u(rng, m) < 0.1, NA, oi)
    o = _sorted(sh, shop, filed, cutoff)
    ref_col = _order_ref(sh, od, ref[o])
    return {"complaint_id": Col("id", _seq(shop[o], len(sh.gidx)), prefix="cp", shop=sh.gidx[shop[o]]),
            "shop_id": Col("shop", sh.gidx[shop[o]]), "order_id": ref_col, "filed_at": Col("ts", filed[o]),
            "ruled_at": Col("ts", ruled[o]), "upheld": Col("bool", upheld[o]),
            "resolved_by_merchant": Col("bool", by_merchant[o])}


def help_requests(rng: np.random.Generator, sh: Shops, od: dict, day0: np.ndarray, factors: np.ndarray,
                  cutoff: int) -> dict[str, Col]:
    qd = sh.q["dispute"][od["shop"]]
    oi = np.flatnonzero(_u(rng, len(qd)) < 0.004 + 0.025 * (1 - qd))
    loose_shop, loose_day = _cells(rng, 0.05 * sh.size, factors)  # not about one order
    shop = np.concatenate([od["shop"][oi], loose_shop])
    created = np.concatenate([od["paid"][oi] + rng.integers(HOUR, 15 * DAY, len(oi)),
                              day0[loose_day] + _time_of_day(rng, _CONSULT_HOUR_TABLE, len(loose_day))])
    ref = np.concatenate([oi, np.full(len(loose_shop), NA)])
    topic = _draw(rng, _TOPIC_TABLE, len(shop))
    topic = np.where(_u(rng, len(shop)) < 0.05, NA, topic)
    o = _sorted(sh, shop, created, cutoff)
    return {"request_id": Col("id", _seq(shop[o], len(sh.gidx)), prefix="hr", shop=sh.gidx[shop[o]]),
            "shop_id": Col("shop", sh.gidx[shop[o]]), "order_id": _order_ref(sh, od, ref[o]),
            "created_at": Col("ts", created[o]), "topic": Col("label", topic[o], TOPICS)}


def appeals(rng: np.random.Generator, sh: Shops, od: dict, rf: dict, fm: list, cutoff: int) -> dict[str, Col]:
    keen = _u(rng, len(sh.gidx)) * 0.12  # how readily a shop appeals
    late = od["ships"] & ((od["picked"] < 0) | (od["picked"] - od["paid"] > DAY))
    a = np.flatnonzero(late & (_u(rng, len(late)) < keen[od["shop"]]))
    fm_hit = _in_notice(fm, od["ship_r"][a], od["day"][a]) | _in_notice(fm, od["recv_r"][a], od["day"][a])
    filed_a = od["paid"][a] + DAY + rng.integers(HOUR, 3 * DAY, len(a))
    ok_a = _u(rng, len(a)) < np.where(fm_hit, 0.9, 0.35)
    r = np.flatnonzero(rf["against"] & (_u(rng, len(rf["oi"])) < 3 * keen[od["shop"][rf["oi"]]]))
    wait = rng.integers(HOUR, 96 * HOUR, len(r))  # beyond 72 h is too late
    filed_r = rf["ruled"][r] + wait
    ok_r = (wait <= 72 * HOUR) & (_u(rng, len(r)) < 0.4)
    oi = np.concatenate([a, rf["oi"][r]])
    indicator = np.concatenate([np.zeros(len(a), np.int64), np.ones(len(r), np.int64)])
    filed = np.concatenate([filed_a, filed_r])
    decided = filed + np.where(indicator == 0, rng.integers(12 * HOUR, 72 * HOUR, len(oi)),
                               rng.integers(HOUR, 48 * HOUR, len(oi)))
    decided = _cut(decided, cutoff)
    accepted = np.concatenate([ok_a, ok_r]) & (decided >= 0)
    shop = od["shop"][oi]
    o = _sorted(sh, shop, filed, cutoff)
    return {"appeal_id": Col("id", _seq(shop[o], len(sh.gidx)), prefix="ap", shop=sh.gidx[shop[o]]),
            "shop_id": Col("shop", sh.gidx[shop[o]]), "order_id": _order_ref(sh, od, oi[o]),
            "indicator": Col("label", indicator[o], APPEAL_INDICATORS), "filed_at": Col("ts", filed[o]),
            "decided_at": Col("ts", decided[o]), "accepted": Col("bool", accepted[o])}


def aftersale_tasks(rng: np.random.Generator, sh: Shops, od: dict, cutoff: int) -> dict[str, Col]:
    """Platform after-sale tasks (平台售后任务): work the platform hands a shop after a buyer's
    after-sale request on an order, due 24 or 48 hours later. `rng` is the table's own stream."""
    qa = sh.q["after"][od["shop"]]
    oi = np.flatnonzero(_u(rng, len(qa)) < TASK_P + 4 * TASK_P * (1 - qa))
    m, shop, qa = len(oi), od["shop"][oi], qa[oi]
    paid, picked, delivered = (od[k][oi] for k in ("paid", "picked", "delivered"))
    # mostly after delivery; some while the parcel travels, some before it ships
    base = np.where(_u(rng, m) < 0.2, paid, np.where(delivered >= 0, delivered, np.where(picked >= 0, picked, paid)))
    created = base + 10 * MIN + rng.exponential(2 * DAY, m).astype(np.int64)
    due = created + np.where(_u(rng, m) < 0.6, 48, 24) * HOUR
    replied = created + _lognormal(rng, _lerp_log(qa, 20 * MIN, 8 * HOUR), 1.0, m)
    # left past the deadline: answered late or never, and then completed late or never
    neglected = _u(rng, m) < 0.01 + 0.12 * (1 - qa)
    replied = np.where(neglected, np.where(_u(rng, m) < 0.5, due + _lognormal(rng, 12 * HOUR, 1.0, m), NA), replied)
    completed = np.where(replied >= 0, replied + _lognormal(rng, _lerp_log(qa, 2 * HOUR, 30 * HOUR), 0.8, m), NA)
    ref = np.where(_u(rng, m) < 0.08, NA, oi)
    o = _sorted(sh, shop, created, cutoff)
    return {"task_id": Col("id", _seq(shop[o], len(sh.gidx)), prefix="at", shop=sh.gidx[shop[o]]),
            "shop_id": Col("shop", sh.gidx[shop[o]]), "order_id": _order_ref(sh, od, ref[o]),
            "created_at": Col("ts", created[o]), "due_at": Col("ts", due[o]),
            "first_reply_at": Col("ts", _cut(replied[o], cutoff)),
            "completed_at": Col("ts", _cut(completed[o], cutoff))}


def notices(rng: np.random.Generator, days: int) -> list[tuple[int, int, int, int]]:
    """Force-majeure notices: (region, first day, last day, indicators code), days from the start."""
    k = min(1 + days // 20, 30)
    region = rng.choice(_FM_REGIONS, k, p=_FM_W)
    first = rng.integers(0, max(days - 2, 1), k)
    last = np.minimum(first + rng.integers(1, 6, k), days - 1)
    ind = rng.choice(len(FM_INDICATORS), k, p=[0.7, 0.15, 0.15])
    return sorted(zip(region.tolist(), first.tolist(), last.tolist(), ind.tolist()), key=lambda x: (x[1], x[0]))


def block(rng: np.random.Generator, gidx: np.ndarray, day0: np.ndarray, factors: np.ndarray, cutoff: int,
          fm: list[tuple[int, int, int, int]], task_rng: np.random.Generator) -> dict[str, dict[str, Col]]:
    """All per-shop tables of one block of shops, each sorted by shop then its main time.

    `task_rng` draws aftersale_tasks alone, so adding that table left the others' draws as they were."""
    fm3 = [x[:3] for x in fm]
    sh = draw_shops(rng, gidx)
    out = {"shops": shop_table(rng, sh)}
    out["orders"], od = orders(rng, sh, day0, factors, cutoff, fm3)
    out["consultations"], c = consultations(rng, sh, day0, factors, cutoff)
    out["ratings"] = ratings(rng, sh, c, cutoff)
    out["reviews"] = reviews(rng, sh, od, cutoff)
    out["refunds"], rf = refunds(rng, sh, od, cutoff)
    out["complaints"] = complaints(rng, sh, od, cutoff)
    out["help_requests"] = help_requests(rng, sh, od, day0, factors, cutoff)
    out["aftersale_tasks"] = aftersale_tasks(task_rng, sh, od, cutoff)
    out["appeals"] = appeals(rng, sh, od, rf, fm3, cutoff)
    return out


def force_majeure(fm: list[tuple[int, int, int, int]], start_day: int) -> dict[str, Col]:
    """The notices as a table; `start_day` is the first day in days since 1970-01-01."""
    r, first, last, ind = (np.array([x[i] for x in fm], dtype=np.int64) for i in range(4))
    ids = np.array([f"fm{i + 1:04d}" for i in range(len(fm))], dtype=object)
    return {"notice_id": Col("text", ids), "region": Col("label", r, PROVINCE_NAMES),
            "starts_on": Col("date", first + start_day), "ends_on": Col("date", last + start_day),
            "indicators": Col("label", ind, FM_INDICATORS)}
