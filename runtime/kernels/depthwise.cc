#include "kernels/depthwise.h"

#include "kernels/kernel_util.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {

void DepthwiseGeometry::ReadGeometry(const KernelContext& ctx) {
  const auto* o = ctx.op()->builtin_options_as_DepthwiseConv2DOptions();
  const Tensor& in = *ctx.input(0);
  const Tensor& filter = *ctx.input(1);
  const Tensor& out = *ctx.output(0);
  batch_ = in.dim(0);
  in_h_ = in.dim(1);
  in_w_ = in.dim(2);
  channels_ = in.dim(3);
  out_h_ = out.dim(1);
  out_w_ = out.dim(2);
  k_h_ = filter.dim(1);
  k_w_ = filter.dim(2);
  stride_h_ = o->stride_h();
  stride_w_ = o->stride_w();
  dil_h_ = o->dilation_h_factor();
  dil_w_ = o->dilation_w_factor();
  const bool same = o->padding() == tflite::Padding::SAME;
  pad_top_ = same ? ComputePadding(stride_h_, dil_h_, in_h_, k_h_, out_h_) : 0;
  pad_left_ = same ? ComputePadding(stride_w_, dil_w_, in_w_, k_w_, out_w_) : 0;
}

}  // namespace lookout::runtime::internal
