#include "tiers/l2_node.h"

#include <utility>

namespace strata {

// The replies of one Send() as they arrive.
struct L2Node::Group {
  L2Node* node;
  Done done;
  std::vector<RedisReply> replies;
  Status failure;
  size_t left;
};

L2Node::L2Node(uv_loop_t* loop, RedisConnection::Options options,
               const CircuitBreakerOptions& breaker, const Clock* clock)
    : address_(options.endpoint.Address()),
      readonly_(options.readonly),
      conn_(std::make_unique<RedisConnection>(loop, std::move(options))),
      breaker_(breaker, clock) {
  conn_->Start();
}

void L2Node::Send(const Commands& commands, bool asking, Done done) {
  uint64_t connects = conn_->counters().connects;
  if (connects != seen_connects_) {  // (re)connected: worth a probe right away
    seen_connects_ = connects;
    breaker_.EndCooldown();
  }
  if (!breaker_.Allow()) {
    done(Status::Unavailable("redis " + address_ + ": circuit breaker open (" +
                                 conn_->last_error() + ")"),
         {});
    return;
  }
  auto g = std::make_shared<Group>();
  g->node = this;
  g->done = std::move(done);
  g->replies.resize(commands.size());
  g->left = commands.size() * (asking ? 2 : 1);
  // Every callback fires exactly once and the node outlives its connection's
  // callbacks (they are delivered, at the latest, from its destructor).
  auto finish_one = [g]() {
    if (--g->left > 0) return;
    if (g->failure.ok()) {
      g->node->breaker_.OnSuccess();
      g->done(Status::Ok(), std::move(g->replies));
    } else {
      g->node->breaker_.OnFailure();
      g->done(g->failure, {});
    }
  };
  for (size_t i = 0; i < commands.size(); ++i) {
    if (asking) {
      conn_->Command({"ASKING"}, [g, finish_one](StatusOr<RedisReply> r) {
        if (!r.ok() && g->failure.ok()) g->failure = r.status();
        finish_one();
      });
    }
    conn_->Command(commands[i], [g, i, finish_one](StatusOr<RedisReply> r) {
      if (r.ok()) {
        g->replies[i] = std::move(r).value();
      } else if (g->failure.ok()) {
        g->failure = r.status();
      }
      finish_one();
    });
  }
}

}  // namespace strata
