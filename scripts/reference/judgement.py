#!/usr/bin/env python3
"""Reference values for Rollout's judgement statistics, computed independently with SciPy.

Run from the package root to regenerate the fixture the tests read:
    python3 scripts/reference/judgement.py > Tests/RolloutTests/Fixtures/judgement-reference.json

The error-rate test's confidence radius is found by numerically integrating the mSPRT's mixture likelihood
ratio and solving Λ(θ₀) = 1/α for θ₀ (not from the closed form the Swift code uses); binomial tails and
quantile bounds come from scipy.stats.binom.
"""
import json, math
import numpy as np
from scipy import integrate, optimize, stats

def msprt_lambda(theta_hat, theta0, V, tau2):
    # Λ = ∫ N(θ̂; θ, V) / N(θ̂; θ0, V) · N(θ; θ0, τ²) dθ
    sd = math.sqrt(tau2)
    f = lambda th: math.exp(stats.norm.logpdf(theta_hat, th, math.sqrt(V)) - stats.norm.logpdf(theta_hat, theta0, math.sqrt(V))) * stats.norm.pdf(th, theta0, sd)
    lo, hi = theta0 - 12 * sd, theta0 + 12 * sd
    pts = sorted({theta0, theta_hat, min(max(theta_hat, lo), hi)})
    value, _ = integrate.quad(f, lo, hi, points=pts, limit=500, epsabs=0, epsrel=1e-10)
    return value

def error_case(xn, nn, xo, no, delta=0.01, confidence=0.99):
    pn = (xn + 1) / (nn + 2); po = (xo + 1) / (no + 2)
    V = pn * (1 - pn) / (nn + 2) + po * (1 - po) / (no + 2)
    tau2 = max(2 * delta, 2e-4) ** 2
    alpha = 1 - confidence
    theta = pn - po
    # Radius: the distance d at which Λ(θ̂ ± d) = 1/α (Λ depends on |θ̂ − θ0| only).
    g = lambda d: math.log(msprt_lambda(theta, theta + d, V, tau2)) - math.log(1 / alpha)
    hi = 1e-6
    while g(hi) < 0: hi *= 2
    r = optimize.brentq(g, 0, hi, xtol=1e-14, rtol=1e-12)
    return {"newErrors": xn, "newCalls": nn, "oldErrors": xo, "oldCalls": no, "maxIncrease": delta, "confidence": confidence,
            "increase": theta, "radius": r}

errors = [error_case(*c) for c in [
    (0, 100, 0, 900), (0, 5000, 0, 50000), (100, 100, 900, 900), (18, 600, 0, 5400), (41, 812, 3, 7290),
    (500_000, 1_000_000, 499_000, 1_000_000), (0, 10, 5, 10000), (3, 1000, 2, 9000),
]] + [error_case(30, 600, 2, 5400, 0.02, 0.95)]

binomial = [{"k": k, "n": n, "p": p, "cdf": float(stats.binom.cdf(k, n, p))} for (k, n, p) in [
    (0, 10, 0.95), (9, 10, 0.95), (5, 10, 0.5), (940, 1000, 0.95), (950, 1000, 0.95), (949_000, 1_000_000, 0.95),
    (950_500, 1_000_000, 0.95), (3, 600, 0.01), (590, 600, 0.99),
]]

def bounds(n, q, alpha):
    # Lower rank: the largest l with P(Bin ≤ l − 1) ≤ alpha; upper: the smallest u with P(Bin ≤ u − 1) ≥ 1 − alpha.
    ks = np.arange(0, n + 1)
    cdf = stats.binom.cdf(ks, n, q)
    low = [k for k in ks if cdf[k] <= alpha]
    up = [k for k in ks if cdf[k] >= 1 - alpha]
    lower_rank = int(low[-1]) + 1 if low else None
    upper_rank = int(up[0]) + 1 if up and up[0] + 1 <= n else None
    return lower_rank, upper_rank

quantiles = []
for (n, q, alpha) in [(50, 0.95, 0.005), (113, 0.95, 0.00304), (600, 0.95, 0.003), (5400, 0.95, 0.003), (2000, 0.5, 0.01)]:
    l, u = bounds(n, q, alpha)
    quantiles.append({"n": n, "q": q, "alpha": alpha, "lowerRank": l, "upperRank": u})

print(json.dumps({"generatedBy": "python3 scripts/reference/judgement.py (scipy " + __import__("scipy").__version__ + ")",
                  "errorRate": errors, "binomial": binomial, "quantileRanks": quantiles}, indent=1))
