// Writes the model fuzzer's seed corpus: small .tflite models built with the
// runtime tests' ModelBuilder, a few hundred bytes to a few KB each.
//
//   make_fuzz_corpus DIR     (cmake --build build --target fuzz_corpus)
//
// ok_*    every operator the runtime registers, on uint8 and on int8 tensors
//         (per-channel weights where the op has weights), and small
//         MobileNet-shaped networks; each must run on the reference backend
//         and on the xnnpack backend with and without Lookout's own kernels.
// edge_*  legal but unusual: empty tensors, windows larger than the input,
//         constant inputs, shared inputs. No expectation but no crash.
// bad_*   corrupt, truncated or invalid models; each must be refused.
// The generator checks those expectations itself and fails if one is not met,
// so the corpus keeps meaning what its names say. Output is deterministic.
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "lookout/runtime/interpreter.h"
#include "lookout/runtime/model.h"
#include "runtime/model_builder.h"

namespace lr = lookout::runtime;
namespace lt = lookout::testing;
namespace fs = std::filesystem;
using lt::ModelBuilder;
using tflite::ActivationFunctionType;
using tflite::Padding;
using tflite::TensorType;

namespace {

// Builtin codes the tests' op:: list does not name.
constexpr int32_t kMaxPool2D = 17;
constexpr int32_t kPad = 34;
constexpr int32_t kTranspose = 39;
constexpr int32_t kMean = 40;

// How a model's 8-bit tensors are quantized.
struct Kind {
  const char* tag;
  TensorType type;
  bool per_channel;  // weights quantized per output channel (INT8 only)
};
constexpr Kind kU8{"u8", TensorType::UINT8, false};
constexpr Kind kI8{"i8", TensorType::INT8, false};
constexpr Kind kI8PerChannel{"i8pc", TensorType::INT8, true};

// Deterministic filler bytes.
std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> out(n);
  uint32_t x = seed * 2654435761u + 12345u;
  for (uint8_t& v : out) {
    x = x * 1103515245u + 12345u;
    v = static_cast<uint8_t>(x >> 16);
  }
  return out;
}

size_t Elements(const std::vector<int32_t>& shape) {
  size_t n = 1;
  for (int32_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

// An activation tensor; `zero_point` is the INT8 one (UINT8 adds 128).
int32_t Act(ModelBuilder& b, const Kind& k, const std::string& name, std::vector<int32_t> shape,
            float scale, int32_t zero_point = 0) {
  const int64_t zp = k.type == TensorType::UINT8 ? zero_point + 128 : zero_point;
  return b.AddTensor(name, std::move(shape), k.type, {{scale}, {zp}, 0});
}

// Constant weights of `channels` output channels along `qdim`.
int32_t Weights(ModelBuilder& b, const Kind& k, const std::string& name, std::vector<int32_t> shape,
                int32_t qdim, int32_t channels, uint32_t seed) {
  std::vector<uint8_t> data = Pattern(Elements(shape), seed);
  if (k.type == TensorType::UINT8) {
    return b.AddTensor(name, std::move(shape), k.type, {{0.02f}, {120}, 0}, std::move(data));
  }
  for (uint8_t& v : data) {
    if (v == 0x80) v = 0x81;  // symmetric int8 weights: -127..127
  }
  if (!k.per_channel) return b.AddTensor(name, std::move(shape), k.type, {{0.02f}, {0}, 0}, std::move(data));
  lt::Quant q;
  for (int32_t c = 0; c < channels; ++c) {
    q.scale.push_back(0.01f + 0.003f * static_cast<float>(c % 7));
    q.zero_point.push_back(0);
  }
  q.quantized_dimension = qdim;
  return b.AddTensor(name, std::move(shape), k.type, std::move(q), std::move(data));
}

int32_t Bias(ModelBuilder& b, const std::string& name, int32_t channels, uint32_t seed) {
  std::vector<int32_t> values(static_cast<size_t>(channels));
  const std::vector<uint8_t> r = Pattern(values.size(), seed);
  for (size_t i = 0; i < values.size(); ++i) values[i] = (static_cast<int32_t>(r[i]) - 128) * 9;
  return b.AddInt32(name, {channels}, values);
}

lt::OptionsFn MulOptions(ActivationFunctionType activation = ActivationFunctionType::NONE) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::MulOptions, tflite::CreateMulOptions(fbb, activation).Union());
  };
}

lt::OptionsFn ReducerOptions(bool keep_dims) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::ReducerOptions,
                          tflite::CreateReducerOptions(fbb, keep_dims).Union());
  };
}

lt::OptionsFn FullyConnectedKeepDims(ActivationFunctionType activation, bool keep_num_dims) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::FullyConnectedOptions,
                          tflite::CreateFullyConnectedOptions(
                              fbb, activation, tflite::FullyConnectedOptionsWeightsFormat::DEFAULT,
                              keep_num_dims)
                              .Union());
  };
}

std::vector<uint8_t> Finish(ModelBuilder& b, std::vector<int32_t> inputs, std::vector<int32_t> outputs) {
  b.SetInputs(std::move(inputs));
  b.SetOutputs(std::move(outputs));
  return b.Build();
}

// ---- One operator each -------------------------------------------------

std::vector<uint8_t> Conv(const Kind& k, Padding padding, int32_t stride, int32_t dilation,
                          ActivationFunctionType act, bool bias) {
  ModelBuilder b;
  const int32_t in = Act(b, k, "input", {1, 7, 6, 3}, 0.5f, -3);
  const int32_t w = Weights(b, k, "filter", {4, 3, 3, 3}, 0, 4, 1);
  const int32_t effective = 2 * dilation + 1;
  const int32_t oh = padding == Padding::SAME ? (7 + stride - 1) / stride : (7 - effective + stride) / stride;
  const int32_t ow = padding == Padding::SAME ? (6 + stride - 1) / stride : (6 - effective + stride) / stride;
  const int32_t out = Act(b, k, "output", {1, oh, ow, 4}, 1.0f, 5);
  b.AddOperator(lt::op::kConv2D, {in, w, bias ? Bias(b, "bias", 4, 2) : -1}, {out},
                lt::Conv2DOptions(padding, stride, stride, act, dilation, dilation), 3);
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> Depthwise(const Kind& k, Padding padding, int32_t stride, int32_t multiplier,
                               ActivationFunctionType act) {
  ModelBuilder b;
  const int32_t c = 3 * multiplier;
  const int32_t in = Act(b, k, "input", {1, 6, 6, 3}, 0.5f, 2);
  const int32_t w = Weights(b, k, "filter", {1, 3, 3, c}, 3, c, 3);
  const int32_t o = padding == Padding::SAME ? (6 + stride - 1) / stride : (6 - 3 + stride) / stride;
  const int32_t out = Act(b, k, "output", {1, o, o, c}, 0.75f, -1);
  b.AddOperator(lt::op::kDepthwiseConv2D, {in, w, Bias(b, "bias", c, 4)}, {out},
                lt::DepthwiseConv2DOptions(padding, stride, stride, multiplier, act), 2);
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> FullyConnected(const Kind& k, std::vector<int32_t> in_shape, bool bias,
                                    ActivationFunctionType act) {
  ModelBuilder b;
  const int32_t depth = in_shape.back();
  const int32_t batches = static_cast<int32_t>(Elements(in_shape)) / depth;
  const int32_t in = Act(b, k, "input", in_shape, 0.25f, 1);
  const int32_t w = Weights(b, k, "weights", {6, depth}, 0, 6, 5);
  const int32_t out = Act(b, k, "output", {batches, 6}, 0.5f, -2);
  b.AddOperator(lt::op::kFullyConnected, {in, w, bias ? Bias(b, "bias", 6, 6) : -1}, {out},
                lt::FullyConnectedOptions(act), k.per_channel ? 4 : 1);
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> Binary(const Kind& k, int32_t code, std::vector<int32_t> a_shape,
                            std::vector<int32_t> b_shape, std::vector<int32_t> out_shape,
                            ActivationFunctionType act, bool constant_b) {
  ModelBuilder b;
  const int32_t x = Act(b, k, "x", a_shape, 0.5f, 3);
  int32_t y;
  if (constant_b) {
    y = b.AddTensor("y", b_shape, k.type, {{0.25f}, {k.type == TensorType::UINT8 ? 128 : -4}, 0},
                    Pattern(Elements(b_shape), 7));
  } else {
    y = Act(b, k, "y", b_shape, 0.25f, -4);
  }
  const int32_t out = Act(b, k, "sum", out_shape, code == lt::op::kAdd ? 0.5f : 0.2f, 1);
  b.AddOperator(code, {x, y}, {out}, code == lt::op::kAdd ? lt::AddOptions(act) : MulOptions(act));
  return Finish(b, constant_b ? std::vector<int32_t>{x} : std::vector<int32_t>{x, y}, {out});
}

std::vector<uint8_t> Pool(const Kind& k, int32_t code, Padding padding, int32_t stride, int32_t filter,
                          ActivationFunctionType act) {
  ModelBuilder b;
  const int32_t in = Act(b, k, "input", {1, 6, 5, 3}, 0.5f, -7);
  const int32_t oh = padding == Padding::SAME ? (6 + stride - 1) / stride : (6 - filter + stride) / stride;
  const int32_t ow = padding == Padding::SAME ? (5 + stride - 1) / stride : (5 - filter + stride) / stride;
  const int32_t out = Act(b, k, "output", {1, oh, ow, 3}, 0.5f, -7);
  b.AddOperator(code, {in}, {out}, lt::Pool2DOptions(padding, stride, stride, filter, filter, act));
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> GlobalAveragePool(const Kind& k) {
  ModelBuilder b;
  const int32_t in = Act(b, k, "input", {2, 4, 3, 5}, 0.5f, 9);
  const int32_t out = Act(b, k, "output", {2, 1, 1, 5}, 0.5f, 9);
  b.AddOperator(lt::op::kAveragePool2D, {in}, {out}, lt::Pool2DOptions(Padding::VALID, 1, 1, 3, 4));
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> Mean(const Kind& k, std::vector<int32_t> axes) {
  ModelBuilder b;
  const int32_t in = Act(b, k, "input", {1, 5, 4, 6}, 0.5f, -10);
  const int32_t axis = b.AddInt32("axis", {static_cast<int32_t>(axes.size())}, axes);
  const int32_t out = Act(b, k, "output", {1, 1, 1, 6}, 0.4f, 4);
  b.AddOperator(kMean, {in, axis}, {out}, ReducerOptions(true));
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> Softmax(const Kind& k, std::vector<int32_t> shape, float beta) {
  ModelBuilder b;
  const int32_t in = Act(b, k, "logits", shape, 0.1f, 6);
  const int32_t out = Act(b, k, "probabilities", shape, 1.0f / 256, -128);
  b.AddOperator(lt::op::kSoftmax, {in}, {out}, lt::SoftmaxOptions(beta));
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> Reshape(const Kind& k, bool shape_input) {
  ModelBuilder b;
  const int32_t in = Act(b, k, "input", {1, 2, 3, 4}, 0.5f, 0);
  const int32_t out = Act(b, k, "output", {1, 24}, 0.5f, 0);
  if (shape_input) {
    const int32_t shape = b.AddInt32("shape", {2}, {1, 24});
    b.AddOperator(lt::op::kReshape, {in, shape}, {out}, lt::ReshapeOptions({1, 24}));
  } else {
    b.AddOperator(lt::op::kReshape, {in}, {out}, lt::ReshapeOptions({1, 24}));
  }
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> Pad(const Kind& k, std::vector<int32_t> shape, std::vector<int32_t> paddings) {
  ModelBuilder b;
  const int32_t rank = static_cast<int32_t>(shape.size());
  std::vector<int32_t> out_shape = shape;
  for (size_t i = 0; i < shape.size(); ++i) out_shape[i] += paddings[2 * i] + paddings[2 * i + 1];
  const int32_t in = Act(b, k, "input", shape, 0.5f, 11);
  const int32_t pads = b.AddInt32("paddings", {rank, 2}, paddings);
  const int32_t out = Act(b, k, "output", out_shape, 0.5f, 11);
  b.AddOperator(kPad, {in, pads}, {out});
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> Transpose(const Kind& k, std::vector<int32_t> shape, std::vector<int32_t> perm) {
  ModelBuilder b;
  std::vector<int32_t> out_shape(shape.size());
  for (size_t i = 0; i < perm.size(); ++i) out_shape[i] = shape[static_cast<size_t>(perm[i])];
  const int32_t in = Act(b, k, "input", shape, 0.5f, 0);
  const int32_t p = b.AddInt32("perm", {static_cast<int32_t>(perm.size())}, perm);
  const int32_t out = Act(b, k, "output", out_shape, 0.5f, 0);
  b.AddOperator(kTranspose, {in, p}, {out});
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> HardSwish(const Kind& k) {
  ModelBuilder b;
  const int32_t in = Act(b, k, "input", {1, 4, 4, 5}, 0.05f, -20);
  const int32_t out = Act(b, k, "output", {1, 4, 4, 5}, 0.03f, -100);
  b.AddOperator(lt::op::kHardSwish, {in}, {out});
  return Finish(b, {in}, {out});
}

std::vector<uint8_t> Quantize(const Kind& from, const Kind& to) {
  ModelBuilder b;
  const int32_t in = Act(b, from, "input", {1, 3, 3, 4}, 0.5f, 0);
  const int32_t out = Act(b, to, "output", {1, 3, 3, 4}, 0.3f, -5);
  b.AddOperator(lt::op::kQuantize, {in}, {out});
  return Finish(b, {in}, {out});
}

// ---- Small networks shaped like the real models --------------------------

// MobileNet v1/v2: conv 3x3/2 -> depthwise 3x3 -> pointwise 1x1 -> residual
// ADD -> global average -> reshape -> fully connected -> softmax.
std::vector<uint8_t> MiniMobileNet(const Kind& k) {
  ModelBuilder b;
  const auto relu6 = ActivationFunctionType::RELU6;
  const int32_t image = Act(b, k, "image", {1, 9, 9, 3}, 1.0f / 128, 0);
  const int32_t w1 = Weights(b, k, "conv/weights", {8, 3, 3, 3}, 0, 8, 11);
  const int32_t c1 = Act(b, k, "conv/relu6", {1, 5, 5, 8}, 6.0f / 255, -128);
  b.AddOperator(lt::op::kConv2D, {image, w1, Bias(b, "conv/bias", 8, 12)}, {c1},
                lt::Conv2DOptions(Padding::SAME, 2, 2, relu6), 3);
  const int32_t w2 = Weights(b, k, "dw/weights", {1, 3, 3, 8}, 3, 8, 13);
  const int32_t c2 = Act(b, k, "dw/relu6", {1, 5, 5, 8}, 6.0f / 255, -128);
  b.AddOperator(lt::op::kDepthwiseConv2D, {c1, w2, Bias(b, "dw/bias", 8, 14)}, {c2},
                lt::DepthwiseConv2DOptions(Padding::SAME, 1, 1, 1, relu6), 3);
  const int32_t w3 = Weights(b, k, "pw/weights", {8, 1, 1, 8}, 0, 8, 15);
  const int32_t c3 = Act(b, k, "pw/linear", {1, 5, 5, 8}, 0.1f, 3);
  b.AddOperator(lt::op::kConv2D, {c2, w3, Bias(b, "pw/bias", 8, 16)}, {c3},
                lt::Conv2DOptions(Padding::VALID, 1, 1), 3);
  const int32_t sum = Act(b, k, "residual", {1, 5, 5, 8}, 0.12f, -2);
  b.AddOperator(lt::op::kAdd, {c1, c3}, {sum}, lt::AddOptions());
  const int32_t pooled = Act(b, k, "pool", {1, 1, 1, 8}, 0.12f, -2);
  b.AddOperator(lt::op::kAveragePool2D, {sum}, {pooled}, lt::Pool2DOptions(Padding::VALID, 1, 1, 5, 5));
  const int32_t flat = Act(b, k, "flatten", {1, 8}, 0.12f, -2);
  b.AddOperator(lt::op::kReshape, {pooled, b.AddInt32("flatten/shape", {2}, {1, 8})}, {flat},
                lt::ReshapeOptions({1, 8}));
  const int32_t w4 = Weights(b, k, "logits/weights", {5, 8}, 0, 5, 17);
  const int32_t logits = Act(b, k, "logits", {1, 5}, 0.2f, 7);
  b.AddOperator(lt::op::kFullyConnected, {flat, w4, Bias(b, "logits/bias", 5, 18)}, {logits},
                lt::FullyConnectedOptions(), k.per_channel ? 4 : 1);
  const int32_t probs = Act(b, k, "probabilities", {1, 5}, 1.0f / 256, -128);
  b.AddOperator(lt::op::kSoftmax, {logits}, {probs}, lt::SoftmaxOptions(1.0f));
  return Finish(b, {image}, {probs});
}

// MobileNet v3 / TF2 post-training quantization: uint8 image -> QUANTIZE to
// int8 -> conv + HARD_SWISH -> squeeze-excite (MEAN, FC, MUL) -> PAD + MAX
// pool -> TRANSPOSE -> FC, with two outputs.
std::vector<uint8_t> MiniMobileNetV3(const Kind& k) {
  ModelBuilder b;
  const int32_t image = Act(b, kU8, "image", {1, 8, 8, 3}, 1.0f / 255, 0);
  const int32_t q = Act(b, k, "image/quantized", {1, 8, 8, 3}, 1.0f / 255, -128);
  b.AddOperator(lt::op::kQuantize, {image}, {q});
  const int32_t w1 = Weights(b, k, "conv/weights", {6, 3, 3, 3}, 0, 6, 21);
  const int32_t c1 = Act(b, k, "conv", {1, 4, 4, 6}, 0.05f, -10);
  b.AddOperator(lt::op::kConv2D, {q, w1, Bias(b, "conv/bias", 6, 22)}, {c1},
                lt::Conv2DOptions(Padding::SAME, 2, 2), 3);
  const int32_t hs = Act(b, k, "hard_swish", {1, 4, 4, 6}, 0.04f, -90);
  b.AddOperator(lt::op::kHardSwish, {c1}, {hs});
  const int32_t mean = Act(b, k, "se/mean", {1, 1, 1, 6}, 0.04f, -90);
  b.AddOperator(kMean, {hs, b.AddInt32("se/axes", {2}, {1, 2})}, {mean}, ReducerOptions(true));
  const int32_t w2 = Weights(b, k, "se/weights", {6, 6}, 0, 6, 23);
  const int32_t gate = Act(b, k, "se/gate", {1, 1, 1, 6}, 1.0f / 255, -128);
  b.AddOperator(lt::op::kFullyConnected, {mean, w2, Bias(b, "se/bias", 6, 24)}, {gate},
                FullyConnectedKeepDims(ActivationFunctionType::RELU6, true), k.per_channel ? 4 : 1);
  const int32_t excited = Act(b, k, "se/mul", {1, 4, 4, 6}, 0.03f, -80);
  b.AddOperator(lt::op::kMul, {hs, gate}, {excited}, MulOptions());
  const int32_t padded = Act(b, k, "pad", {1, 6, 6, 6}, 0.03f, -80);
  b.AddOperator(kPad, {excited, b.AddInt32("pad/paddings", {4, 2}, {0, 0, 1, 1, 1, 1, 0, 0})}, {padded});
  const int32_t pooled = Act(b, k, "maxpool", {1, 2, 2, 6}, 0.03f, -80);
  b.AddOperator(kMaxPool2D, {padded}, {pooled}, lt::Pool2DOptions(Padding::VALID, 2, 2, 3, 3));
  const int32_t nchw = Act(b, k, "nchw", {1, 6, 2, 2}, 0.03f, -80);
  b.AddOperator(kTranspose, {pooled, b.AddInt32("nchw/perm", {4}, {0, 3, 1, 2})}, {nchw});
  const int32_t w3 = Weights(b, k, "head/weights", {4, 24}, 0, 4, 25);
  const int32_t head = Act(b, k, "head", {1, 4}, 0.3f, 0);
  b.AddOperator(lt::op::kFullyConnected, {nchw, w3, -1}, {head}, lt::FullyConnectedOptions(),
                k.per_channel ? 4 : 1);
  return Finish(b, {image}, {head, pooled});
}

// ---- Corrupt and invalid models ------------------------------------------

std::vector<uint8_t> Truncated(std::vector<uint8_t> bytes, size_t keep) {
  bytes.resize(std::min(keep, bytes.size()));
  return bytes;
}

// A single AVERAGE_POOL_2D whose pieces the callers break.
struct PoolParts {
  std::vector<int32_t> in_shape = {1, 4, 4, 2};
  std::vector<int32_t> out_shape = {1, 2, 2, 2};
  float scale = 0.5f;
  int64_t zero_point = 128;
  int32_t code = lt::op::kAveragePool2D;
  int32_t version = 1;
  int32_t filter = 2;
  int32_t stride = 2;
};

std::vector<uint8_t> PoolModel(const PoolParts& p) {
  ModelBuilder b;
  const int32_t in = b.AddUInt8("in", p.in_shape, 0.5f, 128);
  const int32_t out = b.AddTensor("out", p.out_shape, TensorType::UINT8, {{p.scale}, {p.zero_point}, 0});
  b.AddOperator(p.code, {in}, {out}, lt::Pool2DOptions(Padding::VALID, p.stride, p.stride, p.filter, p.filter),
                p.version);
  return Finish(b, {in}, {out});
}

enum class Expect { kRuns, kRefused, kAnything };

struct Entry {
  std::string name;
  std::vector<uint8_t> bytes;
  Expect expect;
};

std::vector<Entry> Corpus() {
  std::vector<Entry> c;
  auto ok = [&](const std::string& name, std::vector<uint8_t> bytes) {
    c.push_back({"ok_" + name, std::move(bytes), Expect::kRuns});
  };
  auto edge = [&](const std::string& name, std::vector<uint8_t> bytes) {
    c.push_back({"edge_" + name, std::move(bytes), Expect::kAnything});
  };
  auto bad = [&](const std::string& name, std::vector<uint8_t> bytes) {
    c.push_back({"bad_" + name, std::move(bytes), Expect::kRefused});
  };
  const auto none = ActivationFunctionType::NONE;
  const auto relu = ActivationFunctionType::RELU;
  const auto relu6 = ActivationFunctionType::RELU6;
  const auto relu1 = ActivationFunctionType::RELU_N1_TO_1;

  for (const Kind& k : {kU8, kI8PerChannel}) {
    const std::string t = k.tag;
    ok("conv_same_" + t, Conv(k, Padding::SAME, 1, 1, none, true));
    ok("conv_valid_stride2_relu6_" + t, Conv(k, Padding::VALID, 2, 1, relu6, true));
    ok("conv_dilated_nobias_" + t, Conv(k, Padding::SAME, 1, 2, relu, false));
    ok("depthwise_" + t, Depthwise(k, Padding::SAME, 1, 1, relu6));
    ok("depthwise_multiplier2_stride2_" + t, Depthwise(k, Padding::VALID, 2, 2, none));
    ok("fully_connected_" + t, FullyConnected(k, {1, 12}, true, none));
    ok("fully_connected_batched_relu_" + t, FullyConnected(k, {2, 3, 8}, false, relu));
    ok("mini_mobilenet_" + t, MiniMobileNet(k));
  }
  for (const Kind& k : {kU8, kI8, kI8PerChannel}) ok(std::string("mini_mobilenet_v3_") + k.tag, MiniMobileNetV3(k));
  ok("conv_i8", Conv(kI8, Padding::SAME, 2, 1, relu1, true));
  ok("depthwise_i8", Depthwise(kI8, Padding::SAME, 2, 3, none));
  ok("fully_connected_i8", FullyConnected(kI8, {1, 10}, true, relu6));
  for (const Kind& k : {kU8, kI8}) {
    const std::string t = k.tag;
    ok("add_" + t, Binary(k, lt::op::kAdd, {1, 3, 3, 4}, {1, 3, 3, 4}, {1, 3, 3, 4}, none, false));
    ok("add_broadcast_relu_" + t, Binary(k, lt::op::kAdd, {1, 3, 3, 4}, {1, 1, 1, 4}, {1, 3, 3, 4}, relu, false));
    ok("add_constant_" + t, Binary(k, lt::op::kAdd, {2, 3}, {3}, {2, 3}, relu6, true));
    ok("mul_" + t, Binary(k, lt::op::kMul, {1, 2, 2, 3}, {1, 2, 2, 3}, {1, 2, 2, 3}, none, false));
    ok("mul_broadcast_" + t, Binary(k, lt::op::kMul, {2, 1, 3}, {1, 4, 1}, {2, 4, 3}, relu1, false));
    ok("average_pool_valid_" + t, Pool(k, lt::op::kAveragePool2D, Padding::VALID, 1, 2, none));
    ok("average_pool_same_" + t, Pool(k, lt::op::kAveragePool2D, Padding::SAME, 2, 3, relu6));
    ok("average_pool_global_" + t, GlobalAveragePool(k));
    ok("max_pool_valid_" + t, Pool(k, kMaxPool2D, Padding::VALID, 2, 2, none));
    ok("max_pool_same_" + t, Pool(k, kMaxPool2D, Padding::SAME, 1, 3, relu));
    ok("mean_" + t, Mean(k, {1, 2}));
    ok("mean_negative_axes_" + t, Mean(k, {-3, 2, -2}));
    ok("softmax_" + t, Softmax(k, {1, 10}, 1.0f));
    ok("softmax_rows_beta_" + t, Softmax(k, {2, 3, 7}, 0.5f));
    ok("reshape_" + t, Reshape(k, false));
    ok("reshape_shape_input_" + t, Reshape(k, true));
    ok("pad_4d_" + t, Pad(k, {1, 2, 3, 2}, {0, 0, 1, 2, 2, 0, 0, 1}));
    ok("pad_2d_" + t, Pad(k, {3, 4}, {1, 1, 0, 3}));
    ok("transpose_4d_" + t, Transpose(k, {1, 2, 3, 4}, {0, 3, 1, 2}));
    ok("transpose_6d_" + t, Transpose(k, {2, 1, 3, 1, 2, 2}, {5, 4, 3, 2, 1, 0}));
    ok("hard_swish_" + t, HardSwish(k));
  }
  ok("quantize_u8_i8", Quantize(kU8, kI8));
  ok("quantize_i8_i8", Quantize(kI8, kI8));
  ok("quantize_i8_u8", Quantize(kI8, kU8));

  // Legal but unusual.
  {
    PoolParts p;
    p.in_shape = {0, 4, 4, 2};
    p.out_shape = {0, 2, 2, 2};
    edge("pool_empty_batch", PoolModel(p));
  }
  {
    ModelBuilder b;  // one tensor read by two nodes and also a graph output
    const int32_t in = b.AddInt8("in", {1, 2, 2, 3}, 0.5f, 0);
    const int32_t a = b.AddInt8("a", {1, 2, 2, 3}, 0.5f, 0);
    const int32_t m = b.AddInt8("m", {1, 2, 2, 3}, 0.5f, 0);
    b.AddOperator(lt::op::kAdd, {in, in}, {a}, lt::AddOptions());
    b.AddOperator(lt::op::kMul, {a, in}, {m}, MulOptions());
    edge("shared_inputs", Finish(b, {in}, {m, a, in}));
  }
  {
    ModelBuilder b;  // a window larger than the input, SAME padding
    const int32_t in = b.AddUInt8("in", {1, 2, 3, 1}, 0.5f, 128);
    const int32_t out = b.AddUInt8("out", {1, 2, 3, 1}, 0.5f, 128);
    b.AddOperator(lt::op::kAveragePool2D, {in}, {out}, lt::Pool2DOptions(Padding::SAME, 1, 1, 9, 9));
    edge("pool_window_over_input", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // convolution of a constant input
    const int32_t in = b.AddTensor("in", {1, 3, 3, 2}, TensorType::INT8, {{0.5f}, {0}, 0}, Pattern(18, 31));
    const int32_t w = Weights(b, kI8PerChannel, "w", {2, 1, 1, 2}, 0, 2, 32);
    const int32_t out = b.AddInt8("out", {1, 3, 3, 2}, 0.5f, 0);
    b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out}, lt::Conv2DOptions(Padding::SAME, 1, 1), 3);
    const int32_t x = b.AddInt8("x", {1}, 0.5f, 0);
    const int32_t y = b.AddInt8("y", {1}, 0.5f, 0);
    b.AddOperator(lt::op::kHardSwish, {x}, {y});
    edge("constant_conv_input", Finish(b, {x}, {out, y}));
  }
  {
    ModelBuilder b;  // a graph input nobody reads
    const int32_t unused = b.AddUInt8("unused", {4}, 0.5f, 128);
    const int32_t in = b.AddUInt8("in", {1, 3}, 0.5f, 128);
    const int32_t out = b.AddUInt8("out", {1, 3}, 0.5f, 128);
    b.AddOperator(lt::op::kHardSwish, {in}, {out});
    edge("unused_input", Finish(b, {unused, in}, {out}));
  }

  // Refused.
  const std::vector<uint8_t> net = MiniMobileNet(kI8PerChannel);
  bad("truncated_half", Truncated(net, net.size() / 2));
  bad("truncated_tail", Truncated(net, net.size() - 8));
  bad("truncated_header", Truncated(net, 12));
  {
    std::vector<uint8_t> bytes = PoolModel({});
    std::memcpy(bytes.data() + 4, "TFL2", 4);
    bad("identifier", bytes);
  }
  {
    PoolParts p;
    p.code = lt::op::kSub;
    bad("unsupported_op", PoolModel(p));
    p = {};
    p.version = 9;
    bad("op_version", PoolModel(p));
    p = {};
    p.in_shape = {1, -4, 4, 2};
    bad("negative_dimension", PoolModel(p));
    p = {};
    p.out_shape = {1, 3, 2, 2};
    bad("output_shape", PoolModel(p));
    p = {};
    p.scale = 0.0f;
    bad("zero_scale", PoolModel(p));
    p = {};
    p.zero_point = 300;
    bad("zero_point_range", PoolModel(p));
    p = {};
    p.filter = 0;
    bad("pool_filter_zero", PoolModel(p));
    p = {};
    p.stride = 0;
    bad("pool_stride_zero", PoolModel(p));
    p = {};
    p.in_shape = {1, 65536, 65536, 1};
    p.out_shape = {1, 32768, 32768, 1};
    bad("tensor_too_large", PoolModel(p));
  }
  {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 4}, 0.5f, 128);
    const int32_t out = b.AddUInt8("out", {1, 4}, 0.5f, 128);
    b.AddOperator(lt::op::kCustom, {in}, {out}, {}, 1, "MyOp");
    bad("custom_op", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 4}, 0.5f, 128);
    const int32_t out = b.AddUInt8("out", {1, 4}, 0.5f, 128);
    b.AddOperator(lt::op::kHardSwish, {in}, {out});
    b.SetBufferIndex(out, 77);
    bad("buffer_index", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 4}, 0.5f, 128);
    const int32_t out = b.AddUInt8("out", {1, 4}, 0.5f, 128);
    b.AddOperator(lt::op::kHardSwish, {in}, {out + 5});
    bad("tensor_index", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // nodes out of order
    const int32_t in = b.AddUInt8("in", {1, 4}, 0.5f, 128);
    const int32_t mid = b.AddUInt8("mid", {1, 4}, 0.5f, 128);
    const int32_t out = b.AddUInt8("out", {1, 4}, 0.5f, 128);
    b.AddOperator(lt::op::kHardSwish, {mid}, {out});
    b.AddOperator(lt::op::kHardSwish, {in}, {mid});
    bad("node_order", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // constant graph input
    const int32_t in = b.AddUInt8("in", {1, 4}, 0.5f, 128, {1, 2, 3, 4});
    const int32_t out = b.AddUInt8("out", {1, 4}, 0.5f, 128);
    b.AddOperator(lt::op::kHardSwish, {in}, {out});
    bad("constant_input", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // buffer size does not match the shape
    const int32_t in = b.AddUInt8("in", {1, 3, 3, 2}, 0.5f, 128);
    const int32_t w = b.AddUInt8("w", {2, 3, 3, 2}, 0.5f, 128, Pattern(35, 41));
    const int32_t out = b.AddUInt8("out", {1, 1, 1, 2}, 0.5f, 128);
    b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out}, lt::Conv2DOptions(Padding::VALID, 1, 1), 3);
    bad("buffer_size", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // per-channel scales along the wrong dimension
    const int32_t in = b.AddInt8("in", {1, 3, 3, 2}, 0.5f, 0);
    const int32_t w = Weights(b, kI8PerChannel, "w", {2, 3, 3, 2}, 3, 2, 42);
    const int32_t out = b.AddInt8("out", {1, 1, 1, 2}, 0.5f, 0);
    b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out}, lt::Conv2DOptions(Padding::VALID, 1, 1), 3);
    bad("quantized_dimension", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // filter is an activation
    const int32_t in = b.AddInt8("in", {1, 3, 3, 2}, 0.5f, 0);
    const int32_t w = b.AddInt8("w", {2, 3, 3, 2}, 0.5f, 0);
    const int32_t out = b.AddInt8("out", {1, 1, 1, 2}, 0.5f, 0);
    b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out}, lt::Conv2DOptions(Padding::VALID, 1, 1), 3);
    bad("filter_not_constant", Finish(b, {in, w}, {out}));
  }
  {
    ModelBuilder b;  // stride 0
    const int32_t in = b.AddInt8("in", {1, 3, 3, 2}, 0.5f, 0);
    const int32_t w = Weights(b, kI8, "w", {2, 3, 3, 2}, 0, 2, 43);
    const int32_t out = b.AddInt8("out", {1, 1, 1, 2}, 0.5f, 0);
    b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out}, lt::Conv2DOptions(Padding::VALID, 0, 1), 3);
    bad("conv_stride_zero", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // fused activation 5 (SIGN_BIT)
    const int32_t in = b.AddInt8("in", {1, 3, 3, 2}, 0.5f, 0);
    const int32_t w = Weights(b, kI8, "w", {2, 3, 3, 2}, 0, 2, 44);
    const int32_t out = b.AddInt8("out", {1, 1, 1, 2}, 0.5f, 0);
    b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out},
                  lt::Conv2DOptions(Padding::VALID, 1, 1, static_cast<ActivationFunctionType>(5)), 3);
    bad("conv_activation", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // depthwise filter of 2 input channels on a 3-channel input
    const int32_t in = b.AddUInt8("in", {1, 3, 3, 3}, 0.5f, 128);
    const int32_t w = Weights(b, kU8, "w", {1, 3, 3, 2}, 3, 2, 45);
    const int32_t out = b.AddUInt8("out", {1, 1, 1, 2}, 0.5f, 128);
    b.AddOperator(lt::op::kDepthwiseConv2D, {in, w, -1}, {out},
                  lt::DepthwiseConv2DOptions(Padding::VALID, 1, 1, 1), 1);
    bad("depthwise_channels", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // FULLY_CONNECTED depth that does not divide the input
    const int32_t in = b.AddUInt8("in", {1, 10}, 0.5f, 128);
    const int32_t w = Weights(b, kU8, "w", {2, 3}, 0, 2, 46);
    const int32_t out = b.AddUInt8("out", {3, 2}, 0.5f, 128);
    b.AddOperator(lt::op::kFullyConnected, {in, w, -1}, {out}, lt::FullyConnectedOptions());
    bad("fully_connected_depth", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // a VALID window taller than the input: empty output
    const int32_t in = b.AddInt8("in", {1, 2, 40, 8}, 0.5f, 0);
    const int32_t w = Weights(b, kI8PerChannel, "w", {8, 3, 1, 8}, 0, 8, 47);
    const int32_t out = b.AddInt8("out", {1, 0, 40, 8}, 0.5f, 0);
    b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out}, lt::Conv2DOptions(Padding::VALID, 1, 1), 3);
    bad("conv_window_over_input", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 2, 40, 8}, 0.5f, 128);
    const int32_t w = Weights(b, kU8, "w", {1, 3, 3, 8}, 3, 8, 48);
    const int32_t out = b.AddUInt8("out", {1, 0, 38, 8}, 0.5f, 128);
    b.AddOperator(lt::op::kDepthwiseConv2D, {in, w, -1}, {out},
                  lt::DepthwiseConv2DOptions(Padding::VALID, 1, 1, 1), 1);
    bad("depthwise_window_over_input", Finish(b, {in}, {out}));
  }
  {
    PoolParts p;
    p.filter = 5;
    p.stride = 1;
    p.out_shape = {1, 0, 0, 2};
    bad("pool_window_over_input", PoolModel(p));
  }
  bad("add_broadcast_empty", Binary(kI8, lt::op::kAdd, {0, 200}, {1, 200}, {1, 200}, none, false));
  edge("add_broadcast_empty", Binary(kI8, lt::op::kAdd, {0, 200}, {1, 200}, {0, 200}, none, false));
  bad("add_no_broadcast", Binary(kU8, lt::op::kAdd, {1, 3}, {1, 2}, {1, 3}, none, false));
  bad("mul_wrong_output", Binary(kI8, lt::op::kMul, {2, 3}, {3}, {3, 3}, none, false));
  bad("mean_axes", Mean(kU8, {0, 3}));
  bad("pad_negative", Pad(kI8, {2, 2}, {1, -1, 0, 0}));
  bad("transpose_perm", Transpose(kU8, {1, 2, 3}, {0, 1, 1}));
  {
    ModelBuilder b;  // softmax output not at scale 1/256
    const int32_t in = b.AddUInt8("in", {1, 4}, 0.1f, 128);
    const int32_t out = b.AddUInt8("out", {1, 4}, 0.5f, 0);
    b.AddOperator(lt::op::kSoftmax, {in}, {out}, lt::SoftmaxOptions(1.0f));
    bad("softmax_output_scale", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // HARD_SWISH output shape differs
    const int32_t in = b.AddInt8("in", {1, 4}, 0.05f, 0);
    const int32_t out = b.AddInt8("out", {1, 5}, 0.05f, 0);
    b.AddOperator(lt::op::kHardSwish, {in}, {out});
    bad("hard_swish_shape", Finish(b, {in}, {out}));
  }
  {
    ModelBuilder b;  // QUANTIZE from INT32
    const int32_t in = b.AddTensor("in", {1, 4}, TensorType::INT32, {{0.5f}, {0}, 0});
    const int32_t out = b.AddInt8("out", {1, 4}, 0.5f, 0);
    b.AddOperator(lt::op::kQuantize, {in}, {out});
    bad("quantize_type", Finish(b, {in}, {out}));
  }
  return c;
}

// Load -> Create -> AllocateTensors -> Invoke on one backend; empty when it ran.
std::string Run(const std::vector<uint8_t>& bytes, lr::KernelFamilies backend) {
  auto model = lr::Model::FromBuffer(bytes);
  if (!model.ok()) return "load: " + model.status().message();
  lr::InterpreterOptions options;
  options.kernels = backend;
  auto interpreter = lr::Interpreter::Create(*model, options);
  if (!interpreter.ok()) return "create: " + interpreter.status().message();
  if (lr::Status s = (*interpreter)->AllocateTensors(); !s.ok()) return "allocate: " + s.message();
  if (lr::Status s = (*interpreter)->Invoke(); !s.ok()) return "invoke: " + s.message();
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path dir = argv[1];
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".tflite") fs::remove(entry.path());
  }
  int failures = 0;
  size_t total = 0;
  const std::vector<Entry> corpus = Corpus();
  for (const Entry& e : corpus) {
    const std::string reference = Run(e.bytes, lr::KernelFamilies::ReferenceOnly());
    const std::string xnnpack = Run(e.bytes, lr::KernelFamilies::All());
    // XNNPACK wherever it applies.
    const std::string xnnpack_only = Run(e.bytes, lr::KernelFamilies::All().without(lr::KernelFamily::kOwnX86).without(lr::KernelFamily::kOwnArm));
    if (e.expect == Expect::kRuns && (!reference.empty() || !xnnpack.empty() || !xnnpack_only.empty())) {
      std::fprintf(stderr, "%s: expected to run: %s%s%s\n", e.name.c_str(), reference.c_str(), xnnpack.c_str(),
                   xnnpack_only.c_str());
      ++failures;
    }
    if (e.expect == Expect::kRefused && (reference.empty() || xnnpack.empty() || xnnpack_only.empty())) {
      std::fprintf(stderr, "%s: expected a refusal, but it ran\n", e.name.c_str());
      ++failures;
    }
    if (e.expect == Expect::kRefused) std::printf("%-32s %s\n", e.name.c_str(), reference.c_str());
    std::ofstream out(dir / (e.name + ".tflite"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(e.bytes.data()), static_cast<std::streamsize>(e.bytes.size()));
    total += e.bytes.size();
  }
  std::printf("%zu models, %zu bytes, in %s\n", corpus.size(), total, dir.c_str());
  return failures == 0 ? 0 : 1;
}
