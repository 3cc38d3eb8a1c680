#include "runtime/model_builder.h"

#include <algorithm>
#include <cstring>

#include "lookout/runtime/interpreter.h"
#include "lookout/runtime/model.h"

namespace lookout::testing {

OptionsFn Conv2DOptions(tflite::Padding padding, int32_t stride_w, int32_t stride_h,
                        tflite::ActivationFunctionType activation, int32_t dilation_w,
                        int32_t dilation_h) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::Conv2DOptions,
                          tflite::CreateConv2DOptions(fbb, padding, stride_w, stride_h, activation,
                                                      dilation_w, dilation_h)
                              .Union());
  };
}

OptionsFn DepthwiseConv2DOptions(tflite::Padding padding, int32_t stride_w, int32_t stride_h,
                                 int32_t depth_multiplier, tflite::ActivationFunctionType activation,
                                 int32_t dilation_w, int32_t dilation_h) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::DepthwiseConv2DOptions,
                          tflite::CreateDepthwiseConv2DOptions(fbb, padding, stride_w, stride_h,
                                                               depth_multiplier, activation, dilation_w,
                                                               dilation_h)
                              .Union());
  };
}

OptionsFn Pool2DOptions(tflite::Padding padding, int32_t stride_w, int32_t stride_h, int32_t filter_w,
                        int32_t filter_h, tflite::ActivationFunctionType activation) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::Pool2DOptions,
                          tflite::CreatePool2DOptions(fbb, padding, stride_w, stride_h, filter_w,
                                                      filter_h, activation)
                              .Union());
  };
}

OptionsFn FullyConnectedOptions(tflite::ActivationFunctionType activation) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::FullyConnectedOptions,
                          tflite::CreateFullyConnectedOptions(fbb, activation).Union());
  };
}

OptionsFn AddOptions(tflite::ActivationFunctionType activation) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::AddOptions,
                          tflite::CreateAddOptions(fbb, activation).Union());
  };
}

OptionsFn MulOptions(tflite::ActivationFunctionType activation) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::MulOptions,
                          tflite::CreateMulOptions(fbb, activation).Union());
  };
}

OptionsFn SoftmaxOptions(float beta) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::SoftmaxOptions,
                          tflite::CreateSoftmaxOptions(fbb, beta).Union());
  };
}

OptionsFn ReshapeOptions(std::vector<int32_t> new_shape) {
  return [new_shape = std::move(new_shape)](flatbuffers::FlatBufferBuilder& fbb) {
    return std::make_pair(tflite::BuiltinOptions::ReshapeOptions,
                          tflite::CreateReshapeOptions(fbb, fbb.CreateVector(new_shape)).Union());
  };
}

int32_t ModelBuilder::AddTensor(const std::string& name, std::vector<int32_t> shape,
                                tflite::TensorType type, Quant quant, std::vector<uint8_t> data) {
  uint32_t buffer = 0;
  if (!data.empty()) {
    buffer = static_cast<uint32_t>(buffers_.size());
    buffers_.push_back(std::move(data));
  }
  tensors_.push_back({name, std::move(shape), type, std::move(quant), buffer});
  return static_cast<int32_t>(tensors_.size() - 1);
}

int32_t ModelBuilder::AddUInt8(const std::string& name, std::vector<int32_t> shape, float scale,
                               int64_t zero_point, std::vector<uint8_t> data) {
  return AddTensor(name, std::move(shape), tflite::TensorType::UINT8, {{scale}, {zero_point}, 0},
                   std::move(data));
}

int32_t ModelBuilder::AddInt8(const std::string& name, std::vector<int32_t> shape, float scale,
                              int64_t zero_point, std::vector<int8_t> data) {
  return AddTensor(name, std::move(shape), tflite::TensorType::INT8, {{scale}, {zero_point}, 0},
                   Bytes(data));
}

int32_t ModelBuilder::AddInt32(const std::string& name, std::vector<int32_t> shape,
                               std::vector<int32_t> values) {
  std::vector<uint8_t> data(values.size() * sizeof(int32_t));
  if (!values.empty()) std::memcpy(data.data(), values.data(), data.size());
  return AddTensor(name, std::move(shape), tflite::TensorType::INT32, {}, std::move(data));
}

void ModelBuilder::SetBufferIndex(int32_t tensor, uint32_t buffer) {
  tensors_.at(static_cast<size_t>(tensor)).buffer = buffer;
}

void ModelBuilder::AddOperator(int32_t builtin_code, std::vector<int32_t> inputs,
                               std::vector<int32_t> outputs, OptionsFn options, int32_t version,
                               std::string custom_code) {
  auto it = std::find_if(opcodes_.begin(), opcodes_.end(), [&](const OpCode& c) {
    return c.builtin_code == builtin_code && c.version == version && c.custom_code == custom_code;
  });
  if (it == opcodes_.end()) {
    opcodes_.push_back({builtin_code, version, std::move(custom_code)});
    it = opcodes_.end() - 1;
  }
  ops_.push_back({static_cast<uint32_t>(it - opcodes_.begin()), std::move(inputs), std::move(outputs),
                  std::move(options)});
}

std::vector<uint8_t> ModelBuilder::Build() const {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<tflite::Buffer>> buffers;
  for (const auto& data : buffers_) {
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> vec = 0;
    if (!data.empty()) {
      // The schema's force_align: 16 on Buffer.data.
      fbb.ForceVectorAlignment(data.size(), sizeof(uint8_t), 16);
      vec = fbb.CreateVector(data);
    }
    buffers.push_back(tflite::CreateBuffer(fbb, vec));
  }
  std::vector<flatbuffers::Offset<tflite::Tensor>> tensors;
  for (const auto& t : tensors_) {
    flatbuffers::Offset<tflite::QuantizationParameters> quant = 0;
    if (!t.quant.scale.empty() || !t.quant.zero_point.empty()) {
      quant = tflite::CreateQuantizationParameters(
          fbb, 0, 0, fbb.CreateVector(t.quant.scale), fbb.CreateVector(t.quant.zero_point),
          tflite::QuantizationDetails::NONE, 0, t.quant.quantized_dimension);
    }
    tensors.push_back(tflite::CreateTensor(fbb, fbb.CreateVector(t.shape), t.type, t.buffer,
                                           fbb.CreateString(t.name), quant));
  }
  std::vector<flatbuffers::Offset<tflite::OperatorCode>> opcodes;
  for (const auto& c : opcodes_) {
    // Codes above 127 do not fit the legacy int8 field, which TFLite then
    // sets to 127 (PLACEHOLDER_FOR_GREATER_OP_CODES).
    const auto deprecated = static_cast<int8_t>(std::min(c.builtin_code, 127));
    opcodes.push_back(tflite::CreateOperatorCode(
        fbb, deprecated, c.custom_code.empty() ? 0 : fbb.CreateString(c.custom_code), c.version,
        c.builtin_code));
  }
  std::vector<flatbuffers::Offset<tflite::Operator>> ops;
  for (const auto& o : ops_) {
    auto options = o.options ? o.options(fbb)
                             : std::make_pair(tflite::BuiltinOptions::NONE, flatbuffers::Offset<void>());
    ops.push_back(tflite::CreateOperator(fbb, o.opcode_index, fbb.CreateVector(o.inputs),
                                         fbb.CreateVector(o.outputs), options.first, options.second));
  }
  auto subgraph = tflite::CreateSubGraph(fbb, fbb.CreateVector(tensors), fbb.CreateVector(inputs_),
                                         fbb.CreateVector(outputs_), fbb.CreateVector(ops),
                                         fbb.CreateString("main"));
  const std::vector<flatbuffers::Offset<tflite::SubGraph>> subgraphs(static_cast<size_t>(subgraph_count_), subgraph);
  auto model = tflite::CreateModel(fbb, 3, fbb.CreateVector(opcodes), fbb.CreateVector(subgraphs),
                                   fbb.CreateString("lookout test model"), fbb.CreateVector(buffers));
  tflite::FinishModelBuffer(fbb, model);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

RunResult RunModel(const std::vector<uint8_t>& bytes, const std::vector<std::vector<uint8_t>>& inputs,
                   lookout::runtime::KernelFamilies backend) {
  namespace lr = lookout::runtime;
  RunResult result;
  auto model = lr::Model::FromBuffer(bytes);
  if (!model.ok()) {
    result.error = "load: " + model.status().message();
    return result;
  }
  lr::InterpreterOptions options;
  options.kernels = backend;
  auto interpreter = lr::Interpreter::Create(*model, options);
  if (!interpreter.ok()) {
    result.error = "create: " + interpreter.status().message();
    return result;
  }
  auto& interp = **interpreter;
  if (auto status = interp.AllocateTensors(); !status.ok()) {
    result.error = "allocate: " + status.message();
    return result;
  }
  if (inputs.size() != interp.input_count()) {
    result.error = "test: " + std::to_string(inputs.size()) + " inputs given, model has " +
                   std::to_string(interp.input_count());
    return result;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto in = interp.input_data(i);
    if (in.size() != inputs[i].size()) {
      result.error = "test: input " + std::to_string(i) + " has " + std::to_string(in.size()) +
                     " bytes, " + std::to_string(inputs[i].size()) + " given";
      return result;
    }
    std::copy(inputs[i].begin(), inputs[i].end(), in.begin());
  }
  if (auto status = interp.Invoke(); !status.ok()) {
    result.error = "invoke: " + status.message();
    return result;
  }
  for (size_t i = 0; i < interp.output_count(); ++i) {
    auto out = interp.output_data(i);
    result.outputs.emplace_back(out.begin(), out.end());
  }
  return result;
}

std::vector<uint8_t> Bytes(const std::vector<int8_t>& values) {
  std::vector<uint8_t> out(values.size());
  std::transform(values.begin(), values.end(), out.begin(),
                 [](int8_t v) { return static_cast<uint8_t>(v); });
  return out;
}

std::vector<int8_t> AsInt8(const std::vector<uint8_t>& bytes) {
  std::vector<int8_t> out(bytes.size());
  std::transform(bytes.begin(), bytes.end(), out.begin(),
                 [](uint8_t v) { return static_cast<int8_t>(v); });
  return out;
}

}  // namespace lookout::testing
