#include "src/cpu_features.h"

#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace lookout::runtime::internal {
namespace {

CpuFeatures Probe() {
  CpuFeatures f;
#if defined(__x86_64__) && defined(__GNUC__)
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  f.avx512vbmi = __builtin_cpu_supports("avx512vbmi");
#elif defined(__aarch64__)
  f.arm_dot_product = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
  return f;
}

}  // namespace

const CpuFeatures& CpuFeatures::Host() {
  static const CpuFeatures features = Probe();
  return features;
}

}  // namespace lookout::runtime::internal
