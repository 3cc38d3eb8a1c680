// Index arithmetic of broadcasting binary ops (ADD, MUL), shared by their
// reference kernels and the vectorized ones.
#ifndef LOOKOUT_RUNTIME_KERNELS_BROADCAST_H_
#define LOOKOUT_RUNTIME_KERNELS_BROADCAST_H_

#include <cstdint>

#include "src/graph.h"

namespace lookout::runtime::internal {

/// Index arithmetic of a broadcasting binary op: shapes right-aligned to
/// 4-D, strides of 0 along the dimensions an input is broadcast in.
struct Broadcast4 {
  int32_t out[4] = {1, 1, 1, 1};
  int64_t stride1[4] = {0, 0, 0, 0};
  int64_t stride2[4] = {0, 0, 0, 0};
  bool trivial = true;  // both inputs have the output's shape.

  Status Init(const KernelContext& ctx, const Tensor& a, const Tensor& b, const Tensor& o) {
    if (a.rank() > 4 || b.rank() > 4 || o.rank() > 4) {
      return ctx.Error("broadcasting supports up to 4-D, got %s and %s", ShapeString(a.shape).c_str(),
                       ShapeString(b.shape).c_str());
    }
    int32_t da[4] = {1, 1, 1, 1}, db[4] = {1, 1, 1, 1}, dout[4] = {1, 1, 1, 1};
    for (size_t i = 0; i < a.rank(); ++i) da[4 - a.rank() + i] = a.shape[i];
    for (size_t i = 0; i < b.rank(); ++i) db[4 - b.rank() + i] = b.shape[i];
    for (size_t i = 0; i < o.rank(); ++i) dout[4 - o.rank() + i] = o.shape[i];
    int64_t s1 = 1, s2 = 1;
    for (int i = 3; i >= 0; --i) {
      if (da[i] != db[i] && da[i] != 1 && db[i] != 1) {
        return ctx.Error("shapes %s and %s do not broadcast", ShapeString(a.shape).c_str(),
                         ShapeString(b.shape).c_str());
      }
      // The dimension that is not 1 (max() would make 1 of an empty 0 and
      // read the empty input as if it had one element).
      const int32_t expected = da[i] == 1 ? db[i] : da[i];
      if (dout[i] != expected) {
        return ctx.Error("output %s does not match the broadcast of %s and %s",
                         ShapeString(o.shape).c_str(), ShapeString(a.shape).c_str(),
                         ShapeString(b.shape).c_str());
      }
      out[i] = expected;
      stride1[i] = da[i] == 1 ? 0 : s1;
      stride2[i] = db[i] == 1 ? 0 : s2;
      s1 *= da[i];
      s2 *= db[i];
      if (da[i] != expected || db[i] != expected) trivial = false;
    }
    return {};
  }

  template <typename T, typename F>
  void Run(const T* a, const T* b, T* o, F&& f) const {
    if (trivial) {
      const int64_t n = static_cast<int64_t>(out[0]) * out[1] * out[2] * out[3];
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(f(a[i], b[i]));
      return;
    }
    for (int32_t i0 = 0; i0 < out[0]; ++i0) {
      for (int32_t i1 = 0; i1 < out[1]; ++i1) {
        for (int32_t i2 = 0; i2 < out[2]; ++i2) {
          const int64_t base1 = i0 * stride1[0] + i1 * stride1[1] + i2 * stride1[2];
          const int64_t base2 = i0 * stride2[0] + i1 * stride2[1] + i2 * stride2[2];
          for (int32_t i3 = 0; i3 < out[3]; ++i3) {
            *o++ = static_cast<T>(f(a[base1 + i3 * stride1[3]], b[base2 + i3 * stride2[3]]));
          }
        }
      }
    }
  }
};

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_KERNELS_BROADCAST_H_
