// A Lambda Node.js execution environment for the local cloud (services/environments.py).
//
// Started with the function's environment (LAMBDA_TASK_ROOT, _HANDLER, AWS_ENDPOINT_URL at
// the emulation, fake credentials) and NODE_PATH at the AWS SDK v3 clients the Lambda
// runtime provides. Init loads the handler module once from the code directory; then each
// line on stdin is one invocation, answered by one JSON line on the file descriptor
// LOCAL_ANSWER_FD (stdout and stderr are the function's log):
//   in:  {"event": <JSON text>, "requestId": ..., "deadlineMs": ..., "traceId": ...}
//   out: {"status": "ready"} | {"status": "init_error", "error": {...}}
//        {"status": "ok", "payload": <JSON text>} | {"status": "error", "error": {...}}
"use strict";

const fs = require("fs");
const http = require("http");
const https = require("https");
const path = require("path");
const readline = require("readline");

const answerFd = Number(process.env.LOCAL_ANSWER_FD);
delete process.env.LOCAL_ANSWER_FD;
const taskRoot = process.env.LAMBDA_TASK_ROOT;
const handlerName = process.env._HANDLER || "";

function answer(message) {
  fs.writeSync(answerFd, JSON.stringify(message) + "\n");
}

function errorOf(error, type) {
  const err = error instanceof Error ? error : new Error(String(error));
  return {
    errorType: type || err.name || "Error",
    errorMessage: err.message,
    trace: String(err.stack || "").split("\n"),
  };
}

// CloudFormation's ResponseURL is HTTPS on port 443; the emulation's is plain HTTP on its
// own port. CDK's providers PUT their answer with https.request({hostname, path}) (no
// port): a request to the ResponseURL's host goes there with its scheme and port.
let responseTarget = null;
const httpsRequest = https.request;
https.request = function request(options, ...rest) {
  if (
    responseTarget &&
    options &&
    typeof options === "object" &&
    !(options instanceof URL) &&
    (options.hostname || options.host) === responseTarget.hostname &&
    !options.port
  ) {
    const { agent: _agent, ...plain } = options;
    return http.request({ ...plain, port: responseTarget.port, protocol: "http:" }, ...rest);
  }
  return httpsRequest.call(this, options, ...rest);
};

function noteResponseUrl(event) {
  responseTarget = null;
  const url = event && typeof event === "object" ? event.ResponseURL : undefined;
  if (typeof url === "string" && url.startsWith("http:")) {
    const parsed = new URL(url);
    responseTarget = { hostname: parsed.hostname, port: parsed.port || "80" };
  }
}

async function loadHandler() {
  const dot = handlerName.lastIndexOf(".");
  if (dot <= 0) {
    throw Object.assign(new Error(`Bad handler ${handlerName}`), { name: "Runtime.MalformedHandlerName" });
  }
  const modulePath = path.resolve(taskRoot, handlerName.slice(0, dot));
  const functionName = handlerName.slice(dot + 1);
  let module;
  const candidates = [".js", ".cjs", ".mjs", ""].map((ext) => modulePath + ext);
  const file = candidates.find((candidate) => fs.existsSync(candidate) && fs.statSync(candidate).isFile());
  if (!file) {
    throw Object.assign(new Error(`Cannot find module '${handlerName.slice(0, dot)}'`), {
      name: "Runtime.ImportModuleError",
    });
  }
  try {
    module = file.endsWith(".mjs") ? await import(file) : require(file);
  } catch (error) {
    error.name = "Runtime.ImportModuleError";
    throw error;
  }
  const handler = module[functionName] || (module.default && module.default[functionName]);
  if (typeof handler !== "function") {
    throw Object.assign(new Error(`${handlerName} is undefined or not exported`), {
      name: "Runtime.HandlerNotFound",
    });
  }
  return handler;
}

function contextFor(requestId, deadlineMs) {
  return {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: process.env.LOCAL_FUNCTION_ARN,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(deadlineMs - Date.now())),
  };
}

function invoke(handler, event, context) {
  // A handler may return a promise, or call back (error, result).
  return new Promise((resolve, reject) => {
    const callback = (error, result) => (error ? reject(error) : resolve(result));
    context.done = callback;
    context.succeed = (result) => resolve(result);
    context.fail = (error) => reject(error);
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === "function") {
        returned.then(resolve, reject);
      }
    } catch (error) {
      reject(error);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    console.error(`[ERROR] init failed: ${error.stack || error}`);
    answer({ status: "init_error", error: errorOf(error, error.name) });
    return;
  }
  answer({ status: "ready" });
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const message = JSON.parse(line);
    const event = JSON.parse(message.event);
    process.env._X_AMZN_TRACE_ID = message.traceId;
    noteResponseUrl(event);
    console.log(`START RequestId: ${message.requestId} Version: $LATEST`);
    try {
      const result = await invoke(handler, event, contextFor(message.requestId, message.deadlineMs));
      answer({ status: "ok", payload: JSON.stringify(result === undefined ? null : result) });
    } catch (error) {
      console.error(`[ERROR] ${error && error.stack ? error.stack : error}`);
      answer({ status: "error", error: errorOf(error) });
    }
    console.log(`END RequestId: ${message.requestId}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
