// Unit tests of core/ptr_map: random inserts and erases checked against std::map.
#include "core/ptr_map.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <vector>

namespace locksan {
namespace {

struct Rec {
  u64 key;
};
u64 KeyOf(const Rec* r) { return r->key; }

TEST(PtrMap, RandomAgainstStdMap) {
  for (int seed = 1; seed <= 10; seed++) {
    std::mt19937_64 rng(seed);
    PtrMap<Rec, KeyOf> m;
    std::map<u64, Rec*> model;
    std::vector<std::unique_ptr<Rec>> storage;
    // Small key ranges force collisions, long probe runs and wrap-around shifts.
    u64 range = seed % 2 ? 64 : 100000;
    for (int op = 0; op < 20000; op++) {
      u64 key = 1 + rng() % range;
      switch (rng() % 3) {
        case 0:
          if (!model.count(key)) {
            storage.push_back(std::make_unique<Rec>(Rec{key}));
            m.Insert(storage.back().get());
            model[key] = storage.back().get();
          }
          break;
        case 1:
          EXPECT_EQ(m.Erase(key), model.erase(key) == 1);
          break;
        default: {
          auto it = model.find(key);
          EXPECT_EQ(m.Find(key), it == model.end() ? nullptr : it->second);
        }
      }
      ASSERT_EQ(m.size(), model.size());
    }
    for (auto& [k, r] : model) EXPECT_EQ(m.Find(k), r);
    size_t n = 0;
    m.ForEach([&](Rec* r) {
      EXPECT_EQ(model[r->key], r);
      n++;
    });
    EXPECT_EQ(n, model.size());
  }
}

TEST(PtrMap, HalfTheSlotMemoryOfAFlatMap) {
  PtrMap<Rec, KeyOf> m;
  std::vector<Rec> recs(1000);
  for (u64 i = 0; i < recs.size(); i++) {
    recs[i].key = i * 4096 + 1;
    m.Insert(&recs[i]);
  }
  EXPECT_EQ(m.MemoryBytes(), 2048 * sizeof(u64));
  for (auto& r : recs) EXPECT_EQ(m.Find(r.key), &r);
  EXPECT_EQ(m.Find(7), nullptr);
}

}  // namespace
}  // namespace locksan
