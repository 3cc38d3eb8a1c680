// Which of Lookout's own CPU-specific kernels this CPU runs, for the tests
// that check them: each variant with the InterpreterOptions that pick it.
#ifndef LOOKOUT_TESTS_RUNTIME_OWN_KERNELS_H_
#define LOOKOUT_TESTS_RUNTIME_OWN_KERNELS_H_

#include <string>
#include <vector>

#include "lookout/runtime/interpreter.h"

#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace lookout::testing {

struct OwnKernelVariant {
  std::string name;                  // the instruction set it is written for
  runtime::KernelFamily family;      // kOwnX86 or kOwnArm
  runtime::OwnKernelOptions own;     // the switches selecting it
  bool takes_uint8 = true;           // false: int8 nodes only (uint8 ones stay with XNNPACK)

  /// Every kernel family, with this variant's switches.
  runtime::InterpreterOptions Options(int threads = 1) const {
    runtime::InterpreterOptions options;
    options.num_threads = threads;
    options.own_kernels = own;
    return options;
  }
};

/// XNNPACK wherever it runs the node: Lookout's own kernels left out.
inline runtime::InterpreterOptions XnnpackOptions(int threads = 1) {
  runtime::InterpreterOptions options;
  options.num_threads = threads;
  options.kernels = runtime::KernelFamilies::All()
                        .without(runtime::KernelFamily::kOwnX86)
                        .without(runtime::KernelFamily::kOwnArm);
  return options;
}

/// TFLite's reference kernels only.
inline runtime::InterpreterOptions ReferenceOptions(int threads = 1) {
  runtime::InterpreterOptions options;
  options.num_threads = threads;
  options.kernels = runtime::KernelFamilies::ReferenceOnly();
  return options;
}

inline bool CpuHasAvx512Vnni() {
#if defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

inline bool CpuHasArmDotProduct() {
#if defined(__aarch64__)
  return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
  return false;
#endif
}

/// The pointwise (GEMM) kernel variants this CPU runs: AVX-512 VNNI on
/// x86-64; on 64-bit Arm the dot-product one (Cortex-A76, Raspberry Pi 5)
/// where the CPU has it, and the plain NEON one (Cortex-A72, Pi 4) always.
inline std::vector<OwnKernelVariant> OwnPointwiseVariants() {
  std::vector<OwnKernelVariant> variants;
  if (CpuHasAvx512Vnni()) variants.push_back({"x86-64 AVX-512 VNNI", runtime::KernelFamily::kOwnX86, {}});
#if defined(__aarch64__)
  // No deferral: also where the default options leave a node to XNNPACK
  // (small K, types XNNPACK has dot-product GEMMs for).
  runtime::OwnKernelOptions own;
  own.defer_to_xnnpack = false;
  if (CpuHasArmDotProduct()) {
    variants.push_back({"arm64 NEON with dot product (Cortex-A76 class)", runtime::KernelFamily::kOwnArm, own});
  }
  own.dot_product = false;
  variants.push_back({"arm64 NEON without dot product (Cortex-A72 class)", runtime::KernelFamily::kOwnArm, own});
#endif
  return variants;
}

/// The DEPTHWISE_CONV_2D kernel variants this CPU runs: AVX-512 (F, BW, VL;
/// with VNNI and VBMI its 3x3 path uses dot products) on x86-64; NEON for
/// int8 on any 64-bit Arm CPU (Cortex-A72 and A76 alike: no dot products).
inline std::vector<OwnKernelVariant> OwnDepthwiseVariants() {
  std::vector<OwnKernelVariant> variants;
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    variants.push_back({"x86-64 AVX-512", runtime::KernelFamily::kOwnX86, {}});
  }
#elif defined(__aarch64__)
  variants.push_back({"arm64 NEON, int8", runtime::KernelFamily::kOwnArm, {}, false});
#endif
  return variants;
}

/// The MUL kernel variants this CPU runs: NEON on 64-bit Arm.
inline std::vector<OwnKernelVariant> OwnMulVariants() {
#if defined(__aarch64__)
  return {{"arm64 NEON", runtime::KernelFamily::kOwnArm, {}}};
#else
  return {};
#endif
}

/// Whether this build has the XNNPACK family (LOOKOUT_WITH_XNNPACK).
inline bool HaveXnnpack() {
  return runtime::CompiledKernelFamilies().contains(runtime::KernelFamily::kXnnpack);
}

/// The family that runs a node XNNPACK can take when Lookout's own kernels
/// are left out: kXnnpack, or kReference in a build without XNNPACK.
inline runtime::KernelFamily XnnpackFamily() {
  return HaveXnnpack() ? runtime::KernelFamily::kXnnpack : runtime::KernelFamily::kReference;
}

/// Whether XNNPACK's 8-bit operators requantize in fp32 here, as Lookout's
/// kernels do: on x86-64. (Debian 12's arm64 XNNPACK rounds uint8 and
/// per-tensor int8 half up instead.) False without XNNPACK.
inline bool XnnpackRequantizesInFp32() {
#if defined(__x86_64__)
  return HaveXnnpack();
#else
  return false;
#endif
}

/// The instruction sets the own-kernel tests cover on this CPU, for skips.
inline std::string OwnKernelsWanted() {
  return "this CPU has none of Lookout's own kernels (x86-64 AVX-512 VNNI, arm64 NEON)";
}

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_RUNTIME_OWN_KERNELS_H_
