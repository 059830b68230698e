// match() must not allocate on the request path. Counting operator new for
// this executable pins it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "lb/routing/rules.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
// The replacements below pair malloc with free; GCC cannot see that through
// inlined std::allocator calls.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
thread_local bool counting = false;
thread_local int allocations = 0;

// Every non-aligned form is replaced so new and delete always pair malloc/free.
void* counted_malloc(std::size_t size) {
    if (counting) ++allocations;
    return std::malloc(size ? size : 1);
}
}  // namespace

void* operator new(std::size_t size) {
    if (void* p = counted_malloc(size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace lb {
namespace {

TEST(RulesAllocation, MatchDoesNotAllocate) {
    std::vector<conf::Rule> rules;
    for (int i = 1; i <= 1000; ++i) {
        conf::Rule rule;
        rule.priority = i;
        std::string n = std::to_string(i);
        rule.conditions = {.host = {"*.example.com"}, .path = {"/p" + n + "/*"}, .method = {"GET"},
                           .header = {{"X-Tenant", {"t" + n}}}, .query = {{"k", {"v " + n}}}};
        rules.push_back(rule);
    }
    auto compiled = RuleSet::compile(rules, conf::Action{});
    ASSERT_TRUE(compiled.ok());
    std::vector<std::pair<std::string_view, std::string_view>> headers = {{"x-tenant", "T1000"}};
    SocketAddress source = *SocketAddress::from_ip("10.0.0.1", 1);
    RequestView view{"GET", "www.Example.com", "/p1000/x", "a=1&k=v%201000", &headers, &source};

    const conf::Action* warm = (*compiled)->match(view);  // per-thread decode buffer grows once
    ASSERT_NE(warm, &rules.back().action);                 // the compiled copy, not the input
    counting = true;
    const conf::Action* action = nullptr;
    for (int i = 0; i < 100; ++i) action = (*compiled)->match(view);
    counting = false;
    EXPECT_EQ(allocations, 0);
    EXPECT_EQ(action, warm);
    EXPECT_EQ(action->kind, conf::Action::Kind::forward);
}

}  // namespace
}  // namespace lb
