// xlens/blocks/parallel.hpp — the threads of xlens's own kernels (the dequantising matmuls).
//
// BLAS brings its own threads for float32 matmuls; a matmul over quantised weights runs in xlens's
// kernels instead, so they need threads of their own or decode would use one core of N. A decode
// step calls ~200 small matmuls, so the workers persist and spin briefly between calls before they
// sleep (a thread start or a condition-variable wake costs more than a small matmul).
//
// One level of parallelism at a time: while a single_threaded_blas guard is alive (callers that
// spread work over threads themselves, e.g. activation patching) or while the pool is already busy
// (a run on another thread), work runs inline on the calling thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

// OpenBLAS's thread-count controls, weak so that linking another BLAS still works (they are then null).
extern "C" {
__attribute__((weak)) void openblas_set_num_threads(int);
__attribute__((weak)) int openblas_get_num_threads(void);
}

namespace xlens::blocks {

namespace detail {

/// Guards alive that ask for everything on the calling thread (see single_threaded_blas).
inline std::atomic<int>& serial_requests() {
    static std::atomic<int> n{0};
    return n;
}

/// Threads xlens's kernels use: 0 until set, then what set_num_threads() said.
inline std::atomic<int>& kernel_threads_setting() {
    static std::atomic<int> n{0};
    return n;
}

class worker_pool {
public:
    static worker_pool& instance() {
        static worker_pool pool;
        return pool;
    }

    /// Calls task(i) for every i in [0, n), spread over `threads` threads (the caller is one of
    /// them); returns when all are done.
    void run(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& task) {
        threads = std::min(threads, n);
        std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
        if (threads <= 1 || !busy.owns_lock()) {
            for (std::size_t i = 0; i < n; ++i) task(i);
            return;
        }
        ensure_workers(threads - 1);
        task_ = &task;
        n_tasks_ = n;
        next_.store(0, std::memory_order_relaxed);
        pending_.store(threads - 1, std::memory_order_relaxed);
        {
            // One word says which run this is and how many workers it wants, so a worker that wakes
            // late for a run it had no part in cannot mistake the next run's count for its own.
            std::lock_guard<std::mutex> lock(wake_mutex_);
            const std::uint64_t run = (generation_.load(std::memory_order_relaxed) >> 16) + 1;
            generation_.store((run << 16) | (threads - 1), std::memory_order_release);
        }
        wake_.notify_all();
        drain();
        while (pending_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
        task_ = nullptr;
    }

    ~worker_pool() {
        {
            std::lock_guard<std::mutex> lock(wake_mutex_);
            stop_ = true;
            generation_.store(((generation_.load(std::memory_order_relaxed) >> 16) + 1) << 16, std::memory_order_release);
        }
        wake_.notify_all();
        for (auto& t : workers_) t.join();
    }

private:
    worker_pool() = default;

    void ensure_workers(std::size_t n) {
        while (workers_.size() < n) {
            const std::size_t index = workers_.size();
            workers_.emplace_back([this, index] { work(index); });
        }
    }

    void drain() {
        for (std::size_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < n_tasks_;) (*task_)(i);
    }

    void work(std::size_t index) {
        std::uint64_t seen = 0;
        for (;;) {
            // Spin a little (the next matmul of a decode step comes within microseconds), then sleep.
            const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
            while (generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < spin_until)
                std::this_thread::yield();
            if (generation_.load(std::memory_order_acquire) == seen) {
                std::unique_lock<std::mutex> lock(wake_mutex_);
                wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
            }
            seen = generation_.load(std::memory_order_acquire);
            if (stop_) return;
            if (index < (seen & 0xFFFFu)) {
                drain();
                pending_.fetch_sub(1, std::memory_order_acq_rel);
            }
        }
    }

    std::mutex busy_;  // one run at a time; others run inline
    std::vector<std::thread> workers_;
    std::mutex wake_mutex_;
    std::condition_variable wake_;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<std::size_t> next_{0}, pending_{0};
    std::size_t n_tasks_ = 0;
    const std::function<void(std::size_t)>* task_ = nullptr;
    bool stop_ = false;
};

}  // namespace detail

/// Threads xlens's kernels use: set_num_threads()'s value, else OpenBLAS's, else the hardware's.
inline std::size_t num_threads() {
    if (detail::serial_requests().load(std::memory_order_relaxed) > 0) return 1;
    if (int n = detail::kernel_threads_setting().load(std::memory_order_relaxed); n > 0) return static_cast<std::size_t>(n);
    if (openblas_get_num_threads) return static_cast<std::size_t>(std::max(1, openblas_get_num_threads()));
    return std::max(1u, std::thread::hardware_concurrency());
}

/// Sets the threads of xlens's kernels and of OpenBLAS (process-wide, as OpenBLAS's setting is).
inline void set_num_threads(int n) {
    n = std::max(1, n);
    detail::kernel_threads_setting().store(n, std::memory_order_relaxed);
    if (openblas_set_num_threads) openblas_set_num_threads(n);
}

/// Sets the threads of xlens's kernels only, leaving OpenBLAS's as they are.
inline void set_kernel_threads(int n) { detail::kernel_threads_setting().store(std::max(1, n), std::memory_order_relaxed); }

/// Calls task(i) for i in [0, n) on num_threads() threads.
inline void parallel_for(std::size_t n, const std::function<void(std::size_t)>& task) {
    detail::worker_pool::instance().run(n, num_threads(), task);
}

/// While alive, OpenBLAS and xlens's kernels run every call on the calling thread: for callers that
/// spread many small, independent matmuls over threads themselves (activation patching), where
/// other threads would only contend with them. Process-wide; a no-op for BLAS other than OpenBLAS.
class single_threaded_blas {
public:
    single_threaded_blas() {
        detail::serial_requests().fetch_add(1);
        if (openblas_get_num_threads && openblas_set_num_threads) {
            previous_ = openblas_get_num_threads();
            if (previous_ > 1) openblas_set_num_threads(1);
        }
    }
    ~single_threaded_blas() {
        if (previous_ > 1) openblas_set_num_threads(previous_);
        detail::serial_requests().fetch_sub(1);
    }
    single_threaded_blas(const single_threaded_blas&) = delete;
    single_threaded_blas& operator=(const single_threaded_blas&) = delete;

private:
    int previous_ = 0;
};

}  // namespace xlens::blocks
