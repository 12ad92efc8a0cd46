"""Fused C++ loops for :class:`neurotrio.sleep.fast._BNReluPool` (float32 on CPU), built on first use.

Why own code: batch norm + ReLU + max-pool in training mode is a chain of elementwise passes over
activations far larger than the cache (a (1024, 16, 1500) float32 map is 98 MB). In PyTorch operators
the fused function still makes ~9 passes forward and ~10 backward (products, masks, sums, ``addcmul``);
no library operator fuses batch-norm statistics, normalisation, ReLU and pooling with their backward,
and ``torch.compile`` does not fuse around a custom autograd function. These loops make 2 passes each
way: statistics, then normalise + pool + ReLU writing the output and a 1-byte winner mask; backward,
the two per-channel sums, then the input gradient. Same arithmetic as the PyTorch form (per-row sums in
float32, combined in float64), so results agree to float rounding (``tests/sleep/test_train_fast.py``).

The source is compiled with ``torch.utils.cpp_extension.load_inline`` (a C++ compiler is needed; about a
minute, once per machine, cached under ``~/.cache/torch_extensions``). Without a compiler, or with
``NEUROTRIO_FAST_EXT=0``, :func:`ops` returns None and ``sleep.fast`` uses its PyTorch operators.

Layout (as ``_BNReluPool``): ``z`` is (N, C, L) with the pooled pairs at positions (2j, 2j+1) ("stride
2"), or with ``planes`` (N, 2C, M) holding the even positions in channels [0, C) and the odd ones in
[C, 2C) ("planes"). Output (N, C, ceil(L / 2)); with odd L the last column is pooled alone.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <vector>

// Compiled for AVX2 and for the baseline; the CPU picks at run time (GCC function multiversioning).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MULTI __attribute__((target_clones("arch=haswell", "default"))) static
#else
#define MULTI static inline
#endif

// Pointers of (n, ch): even/odd position j at e[j * s], o[j * s]; last column (odd L) at e[m * s].
struct Rows {
  const float* z; int64_t n, c, m, s, row, off, len; bool planes, odd;
  Rows(const at::Tensor& t, bool p) : z(t.data_ptr<float>()), n(t.size(0)), planes(p) {
    if (p) { c = t.size(1) / 2; m = t.size(2); s = 1; row = t.size(2); off = c * m; len = m; odd = false; }
    else { c = t.size(1); int64_t l = t.size(2); m = l / 2; s = 2; row = l; off = 1; len = l; odd = l % 2; }
  }
  int64_t base(int64_t i, int64_t ch) const { return (i * (planes ? 2 * c : c) + ch) * row; }
};

MULTI void row_sums(const float* __restrict__ p, int64_t len, double& s1, double& s2) {
  float a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t j = 0; j < len; ++j) { a += p[j]; b += p[j] * p[j]; }
  s1 += a; s2 += b;
}

// Per-channel sum and sum of squares (float64) over the batch and the length.
std::vector<at::Tensor> stats(const at::Tensor& z, bool planes) {
  Rows r(z, planes);
  auto opt = z.options().dtype(at::kDouble);
  at::Tensor s1 = at::zeros({r.c}, opt), s2 = at::zeros({r.c}, opt);
  double* p1 = s1.data_ptr<double>(); double* p2 = s2.data_ptr<double>();
  at::parallel_for(0, r.c, 1, [&](int64_t b, int64_t e) {
    for (int64_t ch = b; ch < e; ++ch) {
      double a1 = 0, a2 = 0;
      for (int64_t i = 0; i < r.n; ++i) {
        const float* p = r.z + r.base(i, ch);
        row_sums(p, r.len, a1, a2);
        if (planes) row_sums(p + r.off, r.len, a1, a2);
      }
      p1[ch] = a1; p2[ch] = a2;
    }
  });
  return {s1, s2};
}

template <int S>
MULTI void apply_row(const float* __restrict__ ze, const float* __restrict__ zo, float* __restrict__ o,
                             uint8_t* __restrict__ mk, int64_t m, float av, float cv) {
#pragma GCC ivdep
  for (int64_t j = 0; j < m; ++j) {
    float ue = av * ze[j * S] + cv, uo = av * zo[j * S] + cv;
    mk[j] = ue >= uo;
    o[j] = std::max(std::max(ue, uo), 0.f);
  }
}

// out = relu(max(a*ze + c, a*zo + c)), mask = (a*ze + c >= a*zo + c) (ties to the even position).
std::vector<at::Tensor> apply(const at::Tensor& z, const at::Tensor& a, const at::Tensor& sh, bool planes) {
  Rows r(z, planes);
  int64_t lo = r.m + (r.odd ? 1 : 0);
  at::Tensor out = at::empty({r.n, r.c, lo}, z.options());
  at::Tensor mask = at::empty({r.n, r.c, r.m}, z.options().dtype(at::kByte));
  const float* pa = a.data_ptr<float>(); const float* pc = sh.data_ptr<float>();
  float* po = out.data_ptr<float>(); uint8_t* pm = mask.data_ptr<uint8_t>();
  at::parallel_for(0, r.n * r.c, 16, [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; ++q) {
      int64_t i = q / r.c, ch = q % r.c;
      const float* ze = r.z + r.base(i, ch); const float* zo = ze + r.off;
      float av = pa[ch], cv = pc[ch];
      float* o = po + q * lo; uint8_t* mk = pm + q * r.m;
      if (planes) apply_row<1>(ze, zo, o, mk, r.m, av, cv);
      else apply_row<2>(ze, zo, o, mk, r.m, av, cv);
      if (r.odd) { float v = av * ze[r.m * 2] + cv; o[r.m] = v > 0.f ? v : 0.f; }
    }
  });
  return {out, mask};
}

// Backward. gpos = grad where out > 0 (ReLU). Returns dz with
// dz = k0 + k1 * z + a * (gpos at the pooled winner, else 0); k0, k1 from the per-channel sums.
// Per-row loops, with the stride S of the pooled pairs known at compile time (1: planes, 2: interleaved).
template <int S>
MULTI void sums_row(const float* __restrict__ g, const float* __restrict__ o, const uint8_t* __restrict__ mk,
                    const float* __restrict__ ze, const float* __restrict__ zo, int64_t m, float& t1, float& t2) {
  float x1 = 0, x2 = 0;
#pragma omp simd reduction(+ : x1, x2)
  for (int64_t j = 0; j < m; ++j) {
    float gv = g[j] * (float)(o[j] > 0.f), me = (float)mk[j];
    x1 += gv; x2 += gv * (me * ze[j * S] + (1.f - me) * zo[j * S]);  // z at the winner: exactly ze or zo
  }
  t1 += x1; t2 += x2;
}

template <int S>
MULTI void dz_row(const float* __restrict__ g, const float* __restrict__ o, const uint8_t* __restrict__ mk,
                          const float* __restrict__ ze, const float* __restrict__ zo, float* __restrict__ de,
                          float* __restrict__ dd, int64_t m, float av, float c0, float c1) {
#pragma GCC ivdep
  for (int64_t j = 0; j < m; ++j) {
    float ag = av * g[j] * (float)(o[j] > 0.f);
    float ae = ag * (float)mk[j];
    de[j * S] = c0 + c1 * ze[j * S] + ae;
    dd[j * S] = c0 + c1 * zo[j * S] + (ag - ae);
  }
}

// Backward, pass 1: per-channel sums of gpos and gpos * z at the winners (float64); gpos = grad where
// out > 0 (ReLU's gradient).
std::vector<at::Tensor> backward_sums(const at::Tensor& grad, const at::Tensor& out, const at::Tensor& mask,
                                      const at::Tensor& z, bool planes) {
  Rows r(z, planes);
  int64_t lo = out.size(2);
  auto opt = z.options().dtype(at::kDouble);
  at::Tensor sg = at::zeros({r.c}, opt), sgz = at::zeros({r.c}, opt);
  double* p1 = sg.data_ptr<double>(); double* p2 = sgz.data_ptr<double>();
  const float* pg = grad.data_ptr<float>(); const float* po = out.data_ptr<float>();
  const uint8_t* pm = mask.data_ptr<uint8_t>();
  at::parallel_for(0, r.c, 1, [&](int64_t b, int64_t e) {
    for (int64_t ch = b; ch < e; ++ch) {
      double a1 = 0, a2 = 0;
      for (int64_t i = 0; i < r.n; ++i) {
        int64_t q = i * r.c + ch;
        const float* g = pg + q * lo; const float* o = po + q * lo;
        const float* ze = r.z + r.base(i, ch);
        float t1 = 0, t2 = 0;
        if (planes) sums_row<1>(g, o, pm + q * r.m, ze, ze + r.off, r.m, t1, t2);
        else sums_row<2>(g, o, pm + q * r.m, ze, ze + 1, r.m, t1, t2);
        if (r.odd) { float gv = o[r.m] > 0.f ? g[r.m] : 0.f; t1 += gv; t2 += gv * ze[r.m * 2]; }
        a1 += t1; a2 += t2;
      }
      p1[ch] = a1; p2[ch] = a2;
    }
  });
  return {sg, sgz};
}

// Backward, pass 2: dz = k0 + k1 * z + a * (gpos at the pooled winner, else 0).
at::Tensor backward_dz(const at::Tensor& grad, const at::Tensor& out, const at::Tensor& mask, const at::Tensor& z,
                       const at::Tensor& a, const at::Tensor& k0, const at::Tensor& k1, bool planes) {
  Rows r(z, planes);
  int64_t lo = out.size(2);
  at::Tensor dz = at::empty_like(z);
  float* pd = dz.data_ptr<float>();
  const float* pg = grad.data_ptr<float>(); const float* po = out.data_ptr<float>();
  const uint8_t* pm = mask.data_ptr<uint8_t>();
  const float* pa = a.data_ptr<float>(); const float* p0 = k0.data_ptr<float>(); const float* p1 = k1.data_ptr<float>();
  at::parallel_for(0, r.n * r.c, 16, [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; ++q) {
      int64_t i = q / r.c, ch = q % r.c;
      int64_t base = r.base(i, ch);
      const float* ze = r.z + base;
      float* de = pd + base;
      const float* g = pg + q * lo; const float* o = po + q * lo;
      float av = pa[ch], c0 = p0[ch], c1 = p1[ch];
      if (planes) dz_row<1>(g, o, pm + q * r.m, ze, ze + r.off, de, de + r.off, r.m, av, c0, c1);
      else dz_row<2>(g, o, pm + q * r.m, ze, ze + 1, de, de + 1, r.m, av, c0, c1);
      if (r.odd) {
        float gv = o[r.m] > 0.f ? g[r.m] : 0.f;
        de[r.m * 2] = c0 + c1 * ze[r.m * 2] + av * gv;
      }
    }
  });
  return dz;
}

// ---- The first block's conv (1 -> F channels, kernel 3, 'same') fused with its batch norm, ReLU and pool.
// The conv output z (N, F, L) is never stored: each pass recomputes it from the input rows x (N, L), which
// need no gradient. The pooled pair j is (z[2j], z[2j+1]); x[-1] = x[L] = 0 ('same' padding); L even.
// Rows are padded into a buffer xp (xp[t + 1] = x[t]) so that every position has the same formula.
static void pad_row(const float* x, int64_t len, std::vector<float>& xp) {
  xp[0] = 0.f; std::copy(x, x + len, xp.begin() + 1); xp[len + 1] = 0.f; xp[len + 2] = 0.f;
}
#define ZE(j) (bv + w0 * xp[2 * (j)] + w1 * xp[2 * (j) + 1] + w2 * xp[2 * (j) + 2])
#define ZO(j) (bv + w0 * xp[2 * (j) + 1] + w1 * xp[2 * (j) + 2] + w2 * xp[2 * (j) + 3])

MULTI void first_stats_row(const float* __restrict__ xp, int64_t m, float bv, float w0, float w1, float w2,
                           double& s1, double& s2) {
  float a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t j = 0; j < m; ++j) { float e = ZE(j), o = ZO(j); a += e + o; b += e * e + o * o; }
  s1 += a; s2 += b;
}

// Per-channel sum and sum of squares of z (float64). w: (F, 3), b: (F).
std::vector<at::Tensor> first_stats(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  int64_t n = x.size(0), len = x.size(1), f = w.size(0), m = len / 2;
  auto opt = x.options().dtype(at::kDouble);
  at::Tensor s1 = at::zeros({f}, opt), s2 = at::zeros({f}, opt);
  const float* px = x.data_ptr<float>(); const float* pw = w.data_ptr<float>(); const float* pb = b.data_ptr<float>();
  std::vector<float> xp(len + 3);
  for (int64_t i = 0; i < n; ++i) {
    pad_row(px + i * len, len, xp);
    for (int64_t c = 0; c < f; ++c)
      first_stats_row(xp.data(), m, pb[c], pw[3 * c], pw[3 * c + 1], pw[3 * c + 2],
                      s1.data_ptr<double>()[c], s2.data_ptr<double>()[c]);
  }
  return {s1, s2};
}

// mask bit 0: the even position won the pool (ties to it); bit 1: the pooled value was > 0 (ReLU passed).
MULTI void first_apply_row(const float* __restrict__ xp, int64_t m, float bv, float w0, float w1, float w2,
                           float av, float cv, float* __restrict__ o, uint8_t* __restrict__ mk) {
#pragma omp simd
  for (int64_t j = 0; j < m; ++j) {
    float ue = av * ZE(j) + cv, uo = av * ZO(j) + cv, v = std::max(ue, uo);
    mk[j] = (uint8_t)(ue >= uo) | (uint8_t)((v > 0.f) << 1);
    o[j] = std::max(v, 0.f);
  }
}

std::vector<at::Tensor> first_apply(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                    const at::Tensor& a, const at::Tensor& sh) {
  int64_t n = x.size(0), len = x.size(1), f = w.size(0), m = len / 2;
  at::Tensor out = at::empty({n, f, m}, x.options());
  at::Tensor mask = at::empty({n, f, m}, x.options().dtype(at::kByte));
  const float* px = x.data_ptr<float>(); const float* pw = w.data_ptr<float>(); const float* pb = b.data_ptr<float>();
  const float* pa = a.data_ptr<float>(); const float* pc = sh.data_ptr<float>();
  float* po = out.data_ptr<float>(); uint8_t* pm = mask.data_ptr<uint8_t>();
  at::parallel_for(0, n, 8, [&](int64_t lo, int64_t hi) {
    std::vector<float> xp(len + 3);
    for (int64_t i = lo; i < hi; ++i) {
      pad_row(px + i * len, len, xp);
      for (int64_t c = 0; c < f; ++c)
        first_apply_row(xp.data(), m, pb[c], pw[3 * c], pw[3 * c + 1], pw[3 * c + 2], pa[c], pc[c],
                        po + (i * f + c) * m, pm + (i * f + c) * m);
    }
  });
  return {out, mask};
}

MULTI void first_sums_row(const float* __restrict__ xp, int64_t m, float bv, float w0, float w1, float w2,
                          const float* __restrict__ g, const uint8_t* __restrict__ mk, double& s1, double& s2) {
  float a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t j = 0; j < m; ++j) {
    float gv = g[j] * (float)(mk[j] >> 1), me = (float)(mk[j] & 1);
    a += gv; b += gv * (me * ZE(j) + (1.f - me) * ZO(j));
  }
  s1 += a; s2 += b;
}

// Backward, pass 1: per-channel sums of gpos and gpos * z at the pooled winners (float64).
std::vector<at::Tensor> first_sums(const at::Tensor& grad, const at::Tensor& mask, const at::Tensor& x,
                                   const at::Tensor& w, const at::Tensor& b) {
  int64_t n = x.size(0), len = x.size(1), f = w.size(0), m = len / 2;
  auto opt = x.options().dtype(at::kDouble);
  at::Tensor s1 = at::zeros({f}, opt), s2 = at::zeros({f}, opt);
  const float* px = x.data_ptr<float>(); const float* pw = w.data_ptr<float>(); const float* pb = b.data_ptr<float>();
  const float* pg = grad.data_ptr<float>(); const uint8_t* pm = mask.data_ptr<uint8_t>();
  std::vector<float> xp(len + 3);
  for (int64_t i = 0; i < n; ++i) {
    pad_row(px + i * len, len, xp);
    for (int64_t c = 0; c < f; ++c)
      first_sums_row(xp.data(), m, pb[c], pw[3 * c], pw[3 * c + 1], pw[3 * c + 2], pg + (i * f + c) * m,
                     pm + (i * f + c) * m, s1.data_ptr<double>()[c], s2.data_ptr<double>()[c]);
  }
  return {s1, s2};
}

MULTI void first_weight_row(const float* __restrict__ xp, int64_t m, float bv, float w0, float w1, float w2,
                            const float* __restrict__ g, const uint8_t* __restrict__ mk, float av, float c0,
                            float c1, double* acc) {
  float d0 = 0, d1 = 0, d2 = 0, db = 0;
#pragma omp simd reduction(+ : d0, d1, d2, db)
  for (int64_t j = 0; j < m; ++j) {
    float ag = av * g[j] * (float)(mk[j] >> 1), ae = ag * (float)(mk[j] & 1);
    float de = c0 + c1 * ZE(j) + ae, dd = c0 + c1 * ZO(j) + (ag - ae);  // dz at 2j and 2j + 1
    float x0 = xp[2 * j], x1 = xp[2 * j + 1], x2 = xp[2 * j + 2], x3 = xp[2 * j + 3];
    d0 += de * x0 + dd * x1; d1 += de * x1 + dd * x2; d2 += de * x2 + dd * x3; db += de + dd;
  }
  acc[0] += d0; acc[1] += d1; acc[2] += d2; acc[3] += db;
}

// Backward, pass 2: dz = k0 + k1 * z + a * (gpos at the winner), reduced at once into the conv's weight
// gradient dW[c, k] = sum dz[c, t] x[t + k - 1] and bias gradient sum dz[c, t] (float64, (F, 4)).
at::Tensor first_weight(const at::Tensor& grad, const at::Tensor& mask, const at::Tensor& x, const at::Tensor& w,
                        const at::Tensor& b, const at::Tensor& a, const at::Tensor& k0, const at::Tensor& k1) {
  int64_t n = x.size(0), len = x.size(1), f = w.size(0), m = len / 2;
  at::Tensor acc = at::zeros({f, 4}, x.options().dtype(at::kDouble));
  const float* px = x.data_ptr<float>(); const float* pw = w.data_ptr<float>(); const float* pb = b.data_ptr<float>();
  const float* pg = grad.data_ptr<float>(); const uint8_t* pm = mask.data_ptr<uint8_t>();
  const float* pa = a.data_ptr<float>(); const float* p0 = k0.data_ptr<float>(); const float* p1 = k1.data_ptr<float>();
  std::vector<float> xp(len + 3);
  for (int64_t i = 0; i < n; ++i) {
    pad_row(px + i * len, len, xp);
    for (int64_t c = 0; c < f; ++c)
      first_weight_row(xp.data(), m, pb[c], pw[3 * c], pw[3 * c + 1], pw[3 * c + 2], pg + (i * f + c) * m,
                       pm + (i * f + c) * m, pa[c], p0[c], p1[c], acc.data_ptr<double>() + 4 * c);
  }
  return acc;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("stats", &stats); m.def("apply", &apply);
  m.def("backward_sums", &backward_sums); m.def("backward_dz", &backward_dz);
  m.def("first_stats", &first_stats); m.def("first_apply", &first_apply);
  m.def("first_sums", &first_sums); m.def("first_weight", &first_weight);
}
"""

_ops: object | None = None
_tried = False


def ops():
    """The compiled module (functions ``stats``, ``apply``, ``backward_sums``, ``backward_dz``), or None
    when disabled (``NEUROTRIO_FAST_EXT=0``) or when it cannot be built here (the reason is logged once)."""
    global _ops, _tried
    if _tried:
        return _ops
    _tried = True
    if os.environ.get("NEUROTRIO_FAST_EXT", "1") == "0":
        return None
    try:
        from torch.utils.cpp_extension import load_inline

        log.info("sleep.fast: loading the fused C++ loops (compiled once per machine, about 30 s)")
        _ops = load_inline("neurotrio_bnrp_v6", cpp_sources=_SOURCE, extra_cflags=["-O3", "-fno-trapping-math", "-fopenmp-simd"],
                           verbose=False)
    except Exception as exc:  # no compiler, no headers: the PyTorch-operator form is used instead
        log.warning("sleep.fast: fused C++ loops unavailable (%s); using PyTorch operators",
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        _ops = None
    return _ops
