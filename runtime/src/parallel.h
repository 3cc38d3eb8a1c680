// The interpreter's threads. With XNNPACK (LOOKOUT_HAVE_XNNPACK) kernels
// share one pthreadpool, XNNPACK's thread pool. Built without it, these
// stand-ins keep pthreadpool's calls and run every task on the calling
// thread, in index order, as pthreadpool itself does with a null pool; the
// interpreter then creates no pool (InterpreterOptions::num_threads has no
// effect).
#ifndef LOOKOUT_RUNTIME_SRC_PARALLEL_H_
#define LOOKOUT_RUNTIME_SRC_PARALLEL_H_

#include <cstddef>
#include <cstdint>

#if LOOKOUT_HAVE_XNNPACK
#include <pthreadpool.h>
#else
typedef struct pthreadpool* pthreadpool_t;
typedef void (*pthreadpool_task_1d_t)(void*, size_t);
typedef void (*pthreadpool_task_2d_t)(void*, size_t, size_t);

inline void pthreadpool_parallelize_1d(pthreadpool_t, pthreadpool_task_1d_t task, void* context,
                                       size_t range, uint32_t /*flags*/) {
  for (size_t i = 0; i < range; ++i) task(context, i);
}

inline void pthreadpool_parallelize_2d(pthreadpool_t, pthreadpool_task_2d_t task, void* context,
                                       size_t range_i, size_t range_j, uint32_t /*flags*/) {
  for (size_t i = 0; i < range_i; ++i) {
    for (size_t j = 0; j < range_j; ++j) task(context, i, j);
  }
}
#endif

#endif  // LOOKOUT_RUNTIME_SRC_PARALLEL_H_
