// strata-bench --self-test: checks of the parts that a wrong number would come
// from (codecs against split and coalesced input, histogram precision, the
// Zipf sampler's distribution, key spelling). Prints each failure; returns
// true if all passed. Needs no server.
#pragma once

namespace strata::bench {

bool RunSelfTest();

}  // namespace strata::bench
