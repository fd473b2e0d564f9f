// strata-example-batch: precompute 1000 "feature vectors", cache them in
// Strata with one pipelined batch, read them back with another, check them,
// and print timings.
//
//   strata-example-batch [SOCKET]     (default $STRATA_SOCKET, then ./strata.sock)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <strata/client.h>

namespace {

constexpr int kItems = 1000;
constexpr int kDims = 64;

// The "expensive" computation whose results we cache: 64 floats per item.
std::vector<float> ComputeFeatures(int item) {
  std::vector<float> v(kDims);
  for (int d = 0; d < kDims; ++d) v[d] = std::sin(static_cast<float>(item * kDims + d) * 0.01f);
  return v;
}

std::string Encode(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  using strata::client::Batch;
  using strata::client::Client;
  const char* env = std::getenv("STRATA_SOCKET");
  std::string socket = argc > 1 ? argv[1] : (env && *env ? env : "./strata.sock");

  auto client = Client::Connect(socket, {.timeout_ms = 5000});
  if (!client.ok()) {
    std::fprintf(stderr, "connect %s: %s\n", socket.c_str(), client.status().ToString().c_str());
    return 1;
  }

  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> encoded;
  encoded.reserve(kItems);
  for (int i = 0; i < kItems; ++i) encoded.push_back(Encode(ComputeFeatures(i)));
  double compute_ms = MsSince(t0);

  // One batch, one write: 1000 sets with a 10-minute TTL.
  Batch writes;
  for (int i = 0; i < kItems; ++i) {
    writes.Set("features:" + std::to_string(i), encoded[i], {.ttl_ms = 600000});
  }
  t0 = std::chrono::steady_clock::now();
  strata::Status st = client->Execute(writes);
  double write_ms = MsSince(t0);
  if (!st.ok()) {
    std::fprintf(stderr, "batch set: %s\n", st.ToString().c_str());
    return 1;
  }

  Batch reads;
  std::vector<strata::client::Ref<strata::client::OptionalBytes>> refs;
  for (int i = 0; i < kItems; ++i) refs.push_back(reads.Get("features:" + std::to_string(i)));
  t0 = std::chrono::steady_clock::now();
  st = client->Execute(reads);
  double read_ms = MsSince(t0);
  if (!st.ok()) {
    std::fprintf(stderr, "batch get: %s\n", st.ToString().c_str());
    return 1;
  }

  int hits = 0, wrong = 0;
  for (int i = 0; i < kItems; ++i) {
    auto v = reads.Result(refs[i]);
    if (!v.ok()) {
      std::fprintf(stderr, "get features:%d: %s\n", i, v.status().ToString().c_str());
      ++wrong;
    } else if (v->has_value()) {
      ++hits;
      if (**v != encoded[i]) ++wrong;
    }
  }
  std::printf("computed %d vectors of %d floats in %.2f ms\n", kItems, kDims, compute_ms);
  std::printf("cached them with one batch of %d sets in %.2f ms\n", kItems, write_ms);
  std::printf("read them back with one batch of %d gets in %.2f ms: %d hits, %d wrong\n",
              kItems, read_ms, hits, wrong);
  return hits == kItems && wrong == 0 ? 0 : 1;
}
