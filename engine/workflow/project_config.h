// ferry.yaml (CONTRACT.md section 5): integrations, and the server, auth, forms, schedules
// and hooks sections. Loaded and validated like a workflow file: every problem reported as
// FILE:LINE:COL, unknown keys with a "did you mean", secrets only by reference.
#pragma once

#include "runtime/integration/config.h"
#include "template/value.h"
#include "workflow/cron.h"
#include "workflow/loader.h"

#include <string>
#include <vector>

namespace ferry::workflow {

struct IntegrationEntry {
    IntegrationConfig config;   // public_json left empty: see settings
    tmpl::Value settings;       // what tasks may see as ctx.integration (no secrets)
    Mark mark;
};

// `events:` in ferry.yaml: execution and step events sent as signed webhooks (to a SIEM).
struct EventSubscription {
    std::string integration;              // a webhook integration
    std::vector<std::string> types;       // empty: every event type
    std::vector<std::string> workflows;   // empty: every workflow
    Mark mark;
};

// One entry of `schedules:`: a workflow started every DURATION or on a cron expression.
struct ScheduleEntry {
    std::string name;
    std::string workflow;
    uint64_t every_ms = 0;                  // 0: cron
    std::string every;                      // as written ("30m")
    std::string cron;                       // the expression as written
    CronSpec cron_spec;
    tmpl::Value inputs = tmpl::Value::dict();
    bool catch_up = true;                   // one run after downtime that missed a due time
    bool enabled = true;
    Mark mark;
};

// The event types the engine emits, for `events:` and the API.
const std::vector<std::string>& engine_event_types();

struct ProjectConfig {
    std::string file;                      // as shown in messages; empty: no ferry.yaml
    std::vector<IntegrationEntry> integrations;
    std::vector<EventSubscription> events;
    std::vector<ScheduleEntry> schedule_entries;  // `schedules:`, validated
    // Sections the server reads (issue 5), kept as values after their shape is checked.
    tmpl::Value server, auth, forms, schedules, hooks;

    const IntegrationEntry* integration(const std::string& name) const;
};

struct ConfigLoadResult {
    ProjectConfig config;
    std::vector<Diagnostic> problems;
    bool ok() const { return problems.empty(); }
};

ConfigLoadResult load_project_config_text(const std::string& text, const std::string& file);

}  // namespace ferry::workflow
