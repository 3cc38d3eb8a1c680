#include "src/kernel_choice.h"

#include "kernels/lut/lut.h"
#if LOOKOUT_HAVE_XNNPACK
#include "kernels/xnnpack/ops.h"
#endif
#if defined(__x86_64__)
#include "kernels/depthwise.h"
#include "kernels/pointwise.h"
#elif defined(__aarch64__)
#include "kernels/depthwise.h"
#include "kernels/mul.h"
#include "kernels/pointwise.h"
#endif

namespace lookout::runtime::internal {

std::unique_ptr<OpKernel> ChooseKernel(KernelContext& ctx, KernelFamilies allowed, const KernelEnvironment& env) {
  if (allowed.contains(KernelFamily::kLookupTable)) {
    if (std::unique_ptr<OpKernel> lut = MakeLutKernel(ctx, env)) return lut;
  }
  const Tensor* data = ctx.input(0);
  if (data != nullptr && data->is_constant) return nullptr;
#if defined(__x86_64__)
  if (allowed.contains(KernelFamily::kOwnX86)) {
    if (std::unique_ptr<OpKernel> own = MakeX86PointwiseKernel(ctx, env)) return own;
    if (std::unique_ptr<OpKernel> own = MakeX86DepthwiseKernel(ctx, env)) return own;
  }
#elif defined(__aarch64__)
  if (allowed.contains(KernelFamily::kOwnArm)) {
    if (std::unique_ptr<OpKernel> own = MakeArmPointwiseKernel(ctx, env)) return own;
    if (std::unique_ptr<OpKernel> own = MakeArmDepthwiseKernel(ctx, env)) return own;
    if (std::unique_ptr<OpKernel> own = MakeArmMulKernel(ctx, env)) return own;
  }
#endif
#if LOOKOUT_HAVE_XNNPACK
  if (allowed.contains(KernelFamily::kXnnpack)) return MakeXnnpackKernel(ctx, env);
#endif
  return nullptr;
}

}  // namespace lookout::runtime::internal
