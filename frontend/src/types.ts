/** The shapes the editor shares with the REST API (flows/api/serializers.py). */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A JSON Schema as the block registry writes it (a small, known subset of 2020-12). */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: Json[];
  "x-enumLabels"?: Record<string, string>;
  oneOf?: JsonSchema[];
  const?: Json;
  default?: Json;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  maxProperties?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  format?: string;
}

export interface HandleSpec {
  id: string;
  label: string;
  required: boolean;
  /** The label while the block branches (a per-item handle is connected): "Any other answer". */
  label_when_branching?: string | null;
}

/** Handles a block grows from its data: one per item of `items` (e.g. each quick reply). */
export interface DynamicHandleSpec {
  items: string;
  prefix: string;
  label: string;
  when?: Record<string, Json>;
  noun?: string;
}

export interface BlockType {
  type: string;
  label: string;
  description: string;
  schema: JsonSchema;
  defaults: JsonObject;
  handles: HandleSpec[];
  dynamic_handles?: DynamicHandleSpec[];
  /** Fields of `data` that name a variable the block sets (an Ask's "variable"). */
  sets_from?: string[];
  waits_for_input: boolean;
  waits_when_branching?: boolean;
  terminal: boolean;
}

export interface Position {
  x: number;
  y: number;
}

export interface DocNode {
  id: string;
  type: string;
  position: Position;
  data: JsonObject;
}

export interface DocEdge {
  id: string;
  source: string;
  sourceHandle: string | null;
  target: string;
}

export interface FlowDocument {
  nodes: DocNode[];
  edges: DocEdge[];
}

export type TriggerKind = "default" | "keywords" | "get_started" | "ref";

export interface Trigger {
  kind: TriggerKind;
  keywords: string[];
  ref: string;
}

export interface Flow {
  id: number;
  name: string;
  description: string;
  page: number;
  page_name: string;
  trigger: Trigger;
  status: "draft" | "published" | "archived";
  revision: number;
  latest_version: number | null;
  has_unpublished_changes: boolean;
  updated_by: string | null;
  created_at: string;
  updated_at: string;
  document: FlowDocument;
}

export type Severity = "error" | "warning";

export interface Problem {
  node_id: string | null;
  field: string;
  message: string;
  severity: Severity;
  code: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: number;
  warnings: number;
  problems: Problem[];
}

export interface FlowVersion {
  number: number;
  note: string;
  published_by: string | null;
  /** Who published it in words: an email, or the API key and the member it belongs to. */
  published_by_label: string | null;
  published_at: string;
}

export interface FlowVersionDetail extends FlowVersion {
  document: FlowDocument;
}

export interface ConnectedPage {
  id: number;
  page_id: string;
  name: string;
  transport: string;
  status: string;
  transport_status?: { status: string; message?: string } | null;
}

export interface CatalogParam {
  key: string;
  label: string;
  type: "string" | "number" | "integer" | "flag" | "json";
  requirement: "required" | "recommended";
  choices: string[];
  description: string;
  transports: string[];
}

export interface CatalogEvent {
  key: string;
  label: string;
  category: string;
  description: string;
  names: Record<string, string | null>;
  name: string | null;
  params: CatalogParam[];
  takes_value: boolean;
  takes_currency: boolean;
}

/** Where a transport stands (events/transport_status.py): Facebook may have retired it. */
export interface TransportStatus {
  state: "active" | "retired";
  label: string;
  technical: string;
  graph_version: string;
  retired_on: string | null;
  delivered: boolean;
  selectable: boolean;
  message: string;
  use_instead: string | null;
}

export interface CatalogTransport {
  key: string;
  custom_events_allowed: boolean;
  /** What happens to a custom event on it: sent as it is, or kept in Pagepulse. */
  custom_events?: "delivered" | "kept";
  custom_events_message?: string;
  status?: TransportStatus;
}

export interface EventCatalog {
  version: string;
  transport: string | null;
  transports: CatalogTransport[];
  categories: string[];
  reserved: { logged_by_facebook_prefixes: string[]; internal_names: string[] };
  events: CatalogEvent[];
}

/** What the Django template hands the island (flows/views.py, json_script "editor-config"). */
export interface EditorConfig {
  flowId: number;
  tenantSlug: string;
  apiRoot: string;
  csrfToken: string;
  canEdit: boolean;
  canPublish: boolean;
  canTestChat: boolean;
  flowsUrl: string;
  eventUrlTemplate: string;
  currencies: [string, string][];
  user: string;
  messengerBaseUrl: string;
  systemVariables: string[];
  /** The transport of the flow's Page, so its catalog loads with everything else. */
  pageTransport: string;
}
