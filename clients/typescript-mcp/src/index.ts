// @taskstate/mcp: taskstate as the durable task store of MCP servers on the official TypeScript SDK.

export { TaskstateTasks, declaresTasks } from "./tasks.js";
export type { SubjectOf, TaskToolConfig, TaskstateTasksOptions } from "./tasks.js";
export { withTaskNotifications } from "./listen.js";
export type { FetchHandler } from "./listen.js";
export { inlineRun, runTask } from "./run.js";
export type { TaskRun, TaskToolHandler } from "./run.js";
export { TASKS_EXTENSION, detailedTask, wireTask } from "./wire.js";
export type { DetailedTask, WireTask } from "./wire.js";
