// A CPU stand-in for the CUDA features tinynet's kernels use, so that their logic can be tested on a
// machine without a GPU: the .cu files compile as C++ with this header force-included (see
// cuda_emulator.py). A launch runs the grid's blocks one after another. Each thread of a block is a
// fiber (ucontext) of one OS thread, run until it reaches a barrier; a barrier opens once every thread
// it concerns (the block's, or the warp's) waits there. So __syncthreads, __syncwarp, warp shuffles and
// shared memory behave as on a GPU, deterministically, and a forgotten barrier shows as a wrong result
// (a thread reads what its neighbours have not written yet). A barrier that can never open (threads
// waiting at different ones, or for threads that have returned) fails the launch. It checks logic, not
// speed or CUDA's memory model.
#pragma once

#include <ucontext.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
// Blocks run one at a time, so a static variable is exactly one block's shared memory.
#define __shared__ static

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

inline dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace emu {
constexpr int warp_size = 32;
constexpr std::size_t stack_size = 64 * 1024;

enum class State { running, at_block_barrier, at_warp_barrier, finished };

struct Fiber {
    ucontext_t context;
    std::unique_ptr<char[]> stack{new char[stack_size]};  // left uninitialized: pages are touched only as used
    dim3 index;
    State state = State::running;
};

inline ucontext_t scheduler;
inline std::vector<Fiber> fibers;
inline int current;  // the fiber running now
inline std::function<void()> kernel_body;
inline unsigned long long shuffle_slots[1024];  // one register per thread, for warp shuffles

inline void fiber_main() {
    kernel_body();
    fibers[current].state = State::finished;  // then back to the scheduler (uc_link)
}

inline void wait(State barrier) {
    fibers[current].state = barrier;
    swapcontext(&fibers[current].context, &scheduler);
}

// Open the barriers whose threads all wait there; false when none could open (a deadlock).
inline bool open_barriers() {
    const int threads = static_cast<int>(fibers.size());
    bool opened = false;
    for (int first = 0; first < threads; first += warp_size) {
        int last = std::min(first + warp_size, threads), waiting = 0;
        for (int t = first; t < last; ++t) waiting += fibers[t].state == State::at_warp_barrier;
        if (waiting == last - first) {
            for (int t = first; t < last; ++t) fibers[t].state = State::running;
            opened = true;
        }
    }
    int waiting = 0;
    for (auto& fiber : fibers) waiting += fiber.state == State::at_block_barrier;
    if (waiting == threads) {
        for (auto& fiber : fibers) fiber.state = State::running;
        opened = true;
    }
    return opened;
}

// Run body() once per thread of every block of the grid. Returns 0, or 1 after a deadlock.
template <class Body>
int launch(const unsigned* dims, Body body) {
    gridDim = {dims[0], dims[1], dims[2]};
    blockDim = {dims[3], dims[4], dims[5]};
    const int threads = blockDim.x * blockDim.y * blockDim.z;
    if (threads > 1024) return 1;
    kernel_body = body;
    if (fibers.size() != static_cast<std::size_t>(threads)) fibers = std::vector<Fiber>(threads);
    for (unsigned bz = 0; bz < gridDim.z; ++bz)
        for (unsigned by = 0; by < gridDim.y; ++by)
            for (unsigned bx = 0; bx < gridDim.x; ++bx) {
                blockIdx = {bx, by, bz};
                for (int t = 0; t < threads; ++t) {
                    Fiber& fiber = fibers[t];
                    fiber.index = {t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
                    fiber.state = State::running;
                    getcontext(&fiber.context);
                    fiber.context.uc_stack = {fiber.stack.get(), 0, stack_size};
                    fiber.context.uc_link = &scheduler;
                    makecontext(&fiber.context, fiber_main, 0);
                }
                for (int finished = 0; finished < threads;) {
                    for (current = 0; current < threads; ++current) {
                        if (fibers[current].state != State::running) continue;
                        threadIdx = fibers[current].index;
                        swapcontext(&scheduler, &fibers[current].context);
                    }
                    finished = 0;
                    for (auto& fiber : fibers) finished += fiber.state == State::finished;
                    if (finished < threads && !open_barriers()) return 1;  // the fibers are abandoned
                }
            }
    return 0;
}

// Call kernel(args...) with args given as CUDA's launch API gives them: an array of pointers to each.
template <class... A, std::size_t... I>
void call(void (*kernel)(A...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<A>*>(args[I])...);
}
template <class... A>
void call(void (*kernel)(A...), void** args) {
    call(kernel, args, std::index_sequence_for<A...>{});
}
}  // namespace emu

inline void __syncthreads() { emu::wait(emu::State::at_block_barrier); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::wait(emu::State::at_warp_barrier); }

template <class T>
T __shfl_xor_sync(unsigned, T value, int lane_mask) {
    static_assert(sizeof(T) <= sizeof(unsigned long long));
    std::memcpy(&emu::shuffle_slots[emu::current], &value, sizeof value);
    __syncwarp();
    T other;
    std::memcpy(&other, &emu::shuffle_slots[emu::current ^ lane_mask], sizeof other);
    __syncwarp();
    return other;
}

template <class T>
T atomicAdd(T* address, T value) {  // fibers never run at once: any read-modify-write is atomic
    T old = *address;
    *address = old + value;
    return old;
}

inline float __int_as_float(int bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

inline double __longlong_as_double(long long bits) {
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
}
