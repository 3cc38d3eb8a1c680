// The host CPU's instruction-set extensions that Lookout's own kernels use,
// probed once per process.
#ifndef LOOKOUT_RUNTIME_SRC_CPU_FEATURES_H_
#define LOOKOUT_RUNTIME_SRC_CPU_FEATURES_H_

namespace lookout::runtime::internal {

struct CpuFeatures {
  // x86-64 (CPUID, through the compiler's __builtin_cpu_supports).
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512vbmi = false;
  // 64-bit Arm (the kernel's AT_HWCAP): SDOT/UDOT (ARMv8.2 dot product;
  // Cortex-A76 has it, Cortex-A72 not).
  bool arm_dot_product = false;

  /// AVX-512 F, BW and VL: what every AVX-512 kernel of ours needs.
  bool avx512_core() const { return avx512f && avx512bw && avx512vl; }

  /// The running CPU's features, probed on the first call (thread-safe).
  static const CpuFeatures& Host();
};

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_SRC_CPU_FEATURES_H_
