// The console is a client of the CloudStack API, exactly as `cs` is: every call is a POST
// to /client/api with response=json and, once signed in, the session key as the
// `sessionkey` parameter (the server never accepts the cookie alone, which is what stops
// other sites from calling the API in the user's name).

/** A refusal or failure the API reported, with its CloudStack error code and text. */
export class ApiError extends Error {
  constructor(code, text) {
    super(text);
    this.code = code;
  }
}

/** The server could not be reached, or something other than the API answered. */
export class Unreachable extends Error {}

const POLL_MS = 300;

export class Api {
  /** `onExpired` runs when a signed-in call is refused with 401: the session is over. */
  constructor(endpoint, onExpired) {
    this.endpoint = endpoint;
    this.onExpired = onExpired;
    this.sessionkey = null;
  }

  /** One command; answers the object inside `<command>response`. */
  async call(command, params = {}) {
    const body = new URLSearchParams();
    body.set("command", command);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") body.set(name, String(value));
    }
    if (this.sessionkey) body.set("sessionkey", this.sessionkey);
    let response;
    try {
      response = await fetch(`${this.endpoint}?response=json`, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch {
      throw new Unreachable("The server cannot be reached. Check the connection; nothing was changed by this request.");
    }
    let payload;
    try {
      payload = await response.json();
    } catch {
      throw new Unreachable(`The server answered HTTP ${response.status} without an API answer: it may be restarting.`);
    }
    const answer = Object.values(payload ?? {})[0] ?? {};
    if (!response.ok || answer.errorcode !== undefined) {
      const error = new ApiError(answer.errorcode ?? response.status, answer.errortext ?? `HTTP ${response.status}`);
      if (error.code === 401 && this.sessionkey) this.onExpired(error);
      throw error;
    }
    return answer;
  }

  /** A list command's items (CloudStack leaves the key out when there are none). */
  async list(command, key, params = {}) {
    const answer = await this.call(command, params);
    return answer[key] ?? [];
  }

  /**
   * An async command followed to its end through queryAsyncJobResult; `onProgress` hears
   * each poll. Answers the job's result, or throws the job's error.
   */
  async job(command, params, onProgress = () => {}) {
    const started = await this.call(command, params);
    if (started.jobid === undefined) return started;
    const since = Date.now();
    for (;;) {
      const job = await this.call("queryAsyncJobResult", { jobid: started.jobid });
      if (job.jobstatus === 1) return job.jobresult ?? {};
      if (job.jobstatus === 2) {
        const failure = job.jobresult ?? {};
        throw new ApiError(failure.errorcode ?? job.jobresultcode, failure.errortext ?? "The job failed");
      }
      onProgress({ jobid: started.jobid, seconds: Math.round((Date.now() - since) / 1000) });
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
