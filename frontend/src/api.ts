/** The editor's only door to the server: the REST API integrators use, with the session and
 * CSRF token. Errors keep the API's shape (`{"error": {"code", "message", "details"}}`). */

import type { FlowStats } from "./graph/results";
import type {
  BlockType,
  ConnectedPage,
  EventCatalog,
  Flow,
  FlowDocument,
  FlowVersion,
  FlowVersionDetail,
  Json,
  JsonObject,
  Trigger,
  ValidationResult,
} from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: JsonObject,
  ) {
    super(message);
  }
}

interface Paginated<T> {
  results: T[];
  next: string | null;
}

export interface SaveBody {
  revision: number;
  name: string;
  description: string;
  page: number;
  trigger: Trigger;
  document: FlowDocument;
}

export interface PublishedVersion extends FlowVersionDetail {
  warnings: ValidationResult["problems"];
}

export class Api {
  constructor(
    private readonly root: string,
    private readonly tenantSlug: string,
    private readonly csrfToken: string,
  ) {}

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = this.csrfToken;
    let response: Response;
    try {
      response = await fetch(this.root + path, {
        method,
        headers,
        // "include" (same-origin in effect) so the page's <link rel=preload> answers are reused.
        credentials: "include",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(
        0,
        "network",
        "The server could not be reached: check your connection.",
        {},
      );
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: Json = null;
    try {
      parsed = text ? (JSON.parse(text) as Json) : null;
    } catch {
      parsed = null;
    }
    if (!response.ok) {
      const error =
        parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed.error : null;
      if (error && typeof error === "object" && !Array.isArray(error)) {
        const details = error.details;
        throw new ApiError(
          response.status,
          typeof error.code === "string" ? error.code : "error",
          typeof error.message === "string" ? error.message : response.statusText,
          details && typeof details === "object" && !Array.isArray(details) ? details : {},
        );
      }
      throw new ApiError(
        response.status,
        "http_" + String(response.status),
        `The server answered ${response.status} ${response.statusText}.`,
        {},
      );
    }
    return parsed as T;
  }

  private tenant(path: string): string {
    return `tenants/${this.tenantSlug}/${path}`;
  }

  private async all<T>(path: string): Promise<T[]> {
    const rows: T[] = [];
    for (let page = 1; page <= 50; page++) {
      const sep = path.includes("?") ? "&" : "?";
      const body = await this.request<Paginated<T>>("GET", `${path}${sep}page=${page}`);
      rows.push(...body.results);
      if (!body.next) break;
    }
    return rows;
  }

  blocks(): Promise<BlockType[]> {
    return this.request("GET", "blocks/");
  }

  /** The whole catalog, or (with a transport) what that transport carries. */
  catalog(transport?: string): Promise<EventCatalog> {
    const query = transport ? `?transport=${encodeURIComponent(transport)}` : "";
    return this.request("GET", `event-catalog${query}`);
  }

  flow(id: number): Promise<Flow> {
    return this.request("GET", this.tenant(`flows/${id}/`));
  }

  pages(): Promise<ConnectedPage[]> {
    return this.all(this.tenant("pages/"));
  }

  save(id: number, body: SaveBody): Promise<Flow> {
    return this.request("PUT", this.tenant(`flows/${id}/`), body);
  }

  validate(id: number): Promise<ValidationResult> {
    return this.request("POST", this.tenant(`flows/${id}/validate/`));
  }

  publish(id: number, note: string, revision: number): Promise<PublishedVersion> {
    return this.request("POST", this.tenant(`flows/${id}/publish/`), { note, revision });
  }

  versions(id: number): Promise<FlowVersion[]> {
    return this.all(this.tenant(`flows/${id}/versions/`));
  }

  version(id: number, number: number): Promise<FlowVersionDetail> {
    return this.request("GET", this.tenant(`flows/${id}/versions/${number}/`));
  }

  restore(id: number, number: number, revision: number): Promise<Flow> {
    return this.request("POST", this.tenant(`flows/${id}/versions/${number}/restore/`), {
      revision,
    });
  }

  /** The funnel counters (flows/api/views.py `stats`); `query` from graph/results statsQuery. */
  stats(id: number, query: string): Promise<FlowStats> {
    return this.request("GET", this.tenant(`flows/${id}/stats/${query}`));
  }

  testChat(id: number, body: JsonObject): Promise<JsonObject | undefined> {
    return this.request("POST", this.tenant(`flows/${id}/test-chat/`), body);
  }
}
