// FrameSlot: the hand-off between the capture thread and the inference
// worker. It holds at most one frame, the newest: a frame put while another
// is waiting replaces it and the replaced one is counted as dropped, so
// inference always runs on the newest frame and never queues stale ones.
// Thread-safe: Put() from the capture thread, Take() from the worker.
#ifndef LOOKOUT_DAEMON_APP_FRAME_SLOT_H_
#define LOOKOUT_DAEMON_APP_FRAME_SLOT_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "lookout/capture/frame.h"

namespace lookout::daemon {

class FrameSlot {
 public:
  /// Offers `frame`; replaces (and counts as dropped) a frame not yet taken.
  void Put(capture::FramePtr frame) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      if (frame_) ++dropped_;
      frame_ = std::move(frame);
    }
    ready_.notify_one();
  }

  /// Blocks until a frame is there (returns it) or the slot is closed and
  /// empty (returns nullptr).
  capture::FramePtr Take() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return frame_ != nullptr || closed_; });
    return std::move(frame_);
  }

  /// No more frames will come: Take() drains the pending frame, then returns nullptr.
  void Close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

  /// Opens a closed slot again (for a new run), without a pending frame.
  void Reopen() {
    std::lock_guard lock(mutex_);
    closed_ = false;
    frame_.reset();
  }

  /// Frames replaced before the worker took them.
  uint64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  capture::FramePtr frame_;
  bool closed_ = false;
  uint64_t dropped_ = 0;
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_APP_FRAME_SLOT_H_
