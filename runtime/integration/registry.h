// The process's integrations by name: one IntegrationClient each, shared by every
// execution, so rate limits, circuit breakers and OAuth tokens are per integration.
#pragma once

#include "runtime/integration/client.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

struct lua_State;

namespace ferry {

class IntegrationRegistry {
  public:
    IntegrationRegistry(Loop& loop, HttpClient& http) : loop_(loop), http_(http) {}
    void add(IntegrationConfig config) {
        std::string name = config.name;
        clients_[name] = std::make_unique<IntegrationClient>(loop_, http_, std::move(config));
    }
    IntegrationClient* find(const std::string& name) const {
        auto it = clients_.find(name);
        return it == clients_.end() ? nullptr : it->second.get();
    }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& [name, c] : clients_)
            out.push_back(name);
        return out;
    }

  private:
    Loop& loop_;
    HttpClient& http_;
    std::map<std::string, std::unique_ptr<IntegrationClient>> clients_;
};

}  // namespace ferry
