// The only way the UI reaches the app: Sotto's own commands. Keys, the network and the files
// stay in the Rust process; this side receives text to show.

import { invoke, Channel } from '@tauri-apps/api/core';

export type Status = 'verified' | 'development' | 'failed' | 'unfinished' | 'streaming' | 'sent' | 'imported';

export interface Receipt {
  enclave: { kind: string; hardware_protected: boolean; module_id: string; checked?: string; tee_class?: string; root_sha256?: string; attested_at_ms?: number; ohttp_key_id?: string; receipt_key_id?: string };
  measurements: Record<string, string>;
  request_hash: string;
  output_hash: string;
  timestamp_ms: number;
  chunks?: number;
  key_id: string;
  signature?: string;
  model: string;
  relay: string;
  request_bytes: number;
  /** The exact request body that was sealed (only from getReceipt). */
  sent_request?: string;
  /** The sources of a web search, as the receipt covers them. */
  citations?: Citation[];
  /** Sources named outside the signature (OpenGradient), not shown. */
  unsigned_citations?: number;
}

/** A source a web-search answer used: what the enclave fetched and quoted. */
export interface Citation { index: number; title: string; url: string; quote: string }

export interface MessageView {
  uid: string;
  role: 'user' | 'assistant' | 'system' | 'tool';
  content: string;
  status: Status;
  detail: string | null;
  model: string | null;
  created_ms: number;
  receipt: Receipt | null;
}

export interface ConversationSummary { id: string; title: string; created_ms: number; updated_ms: number; messages: number; project_id: string | null; web_search: boolean }
export interface ConversationView { id: string; title: string; messages: MessageView[]; web_search: boolean; project: string | null }

export interface ProjectFile { uid: string; name: string; kind: string; chars: number }
export interface Project { id: string; name: string; instructions: string; memory: boolean; created_ms: number; updated_ms: number; files: ProjectFile[]; conversations: number }
export interface ProjectView extends Project { conversation_list: ConversationSummary[] }
export interface Memory { id: string; text: string; created_ms: number }
export interface SearchHit { conversation_id: string; conversation_title: string; message_uid: string; role: string; snippet: string; created_ms: number }

/** One request Sotto made ("what left this device"); sizes are HTTP body bytes. */
export interface NetworkRecord {
  at_ms: number;
  host: string;
  purpose: string;
  method: string;
  path: string;
  status: number;
  bytes_sent: number;
  bytes_received: number;
  conversation_id: string | null;
  user_content: boolean;
  credential: boolean;
}

/** A stored reply checked again, offline, from what was kept with it. */
export interface ReplyCheck {
  conversation_id: string;
  conversation_title: string;
  message_uid: string;
  message: number;
  verdict: 'verified' | 'failed' | 'not_checkable';
  detail: string;
}

export interface Settings {
  profile: { kind: 'local' } | { kind: 'opengradient' } | { kind: 'custom'; path: string };
  expected_pcrs: Record<string, string>;
  relays: string[];
  sandbox: { deadline_s: number; memory_mb: number; output_mb: number; max_steps: number; disk_mb: number };
  theme: 'system' | 'light' | 'dark';
  model: string | null;
  coalesce_ms: number;
}

export interface SettingsView {
  settings: Settings;
  writes: 'allow' | 'ask' | 'deny';
  protection: 'keyring' | 'passphrase' | 'none';
  profile: { name: string; enclave_kind: string; relays: string[]; trust_roots: string[]; expected_pcrs: Record<string, string> } | null;
  profile_error: string | null;
}

export type StartupEvent =
  | { kind: 'step'; text: string }
  | { kind: 'sandbox'; state: 'verifying' | 'compiling' | 'ready' | 'failed'; fraction: number; detail: string };

export interface StartupReport {
  history: { state: 'open' } | { state: 'needs_passphrase'; new: boolean } | { state: 'unavailable'; reason: string };
  settings: Settings;
  profile: string;
  stack: string | null;
  stack_error: string | null;
  sandbox: 'not_started' | 'preparing' | 'ready' | 'failed';
}

export interface SendResult {
  conversation_id: string | null;
  status: 'verified' | 'development' | 'failed' | 'unfinished';
  reason: string | null;
  text: string;
  receipt: Receipt | null;
  warnings: string[];
  /** The memories that went with the request. */
  memories?: Memory[];
  /** What of a project went with it, in one line. */
  project?: string | null;
  web_search?: boolean;
  /** Facts the reply proposes to keep (nothing is kept unless the user says so). */
  proposed_memories?: string[];
}

export interface Step { n: number; tool: string; input: Record<string, unknown>; output: string; ok: boolean; files: string[]; duration_ms: number; sent_bytes: number | null }

export type AgentEvent =
  | { kind: 'model_text'; piece: string }
  | { kind: 'model_verified'; development: boolean }
  | { kind: 'step_started'; n: number; tool: string; input: Record<string, unknown> }
  | { kind: 'step_finished'; step: Step }
  | { kind: 'request_sent'; bytes: number }
  | { kind: 'approve'; id: number; question: string }
  | { kind: 'warning'; message: string };

export interface AgentResult {
  status: 'answered' | 'step_limit' | 'stopped' | 'failed';
  reply: string;
  reason: string | null;
  development: boolean;
  receipt: Receipt | null;
  conversation_id: string | null;
  steps: number;
}

export interface ImageModel { id: string; kind: 'image'; description: string | null }
export interface ImageSettings { size: string; n: number; seed: number | null; style: string | null; model: string | null }
export interface ImageOutput { index: number; width: number; height: number; sha256: string }
export interface GalleryEntry { id: string; prompt: string; settings: ImageSettings; model: string; receipt: Receipt; created_ms: number; outputs: ImageOutput[] }
export interface GenerateResult {
  status: 'verified' | 'development' | 'failed' | 'stopped';
  reason: string | null;
  entry: GalleryEntry | null;
  images: string[];
  receipt: Receipt | null;
}

export interface About { version: string; components: [string, string, string][]; home: string }

function channel<T>(on: (event: T) => void): Channel<T> {
  const c = new Channel<T>();
  c.onmessage = on;
  return c;
}

export const api = {
  startApp: (on: (e: StartupEvent) => void) => invoke<StartupReport>('start_app', { progress: channel(on) }),
  unlockHistory: (passphrase: string) => invoke<void>('unlock_history', { passphrase }),
  sendMessage: (
    request: { request_id: string; conversation_id: string | null; prompt: string; model: string | null; replace_from: string | null; images: string[]; web_search: boolean | null; project: string | null; search_query: string | null },
    onText: (piece: string) => void,
  ) => invoke<SendResult>('send_message', { request, events: channel<{ kind: 'text'; piece: string }>((e) => onText(e.piece)) }),
  stopReply: (requestId: string) => invoke<void>('stop_reply', { requestId }),
  listModels: () => invoke<{ models: string[]; image_models: ImageModel[]; sees_images: string[]; receipt: Receipt }>('list_models'),
  generateImages: (request: { request_id: string; prompt: string; settings: ImageSettings }, onReceived: (bytes: number, total: number | null) => void) =>
    invoke<GenerateResult>('generate_images', { request, events: channel<{ kind: 'received'; bytes: number; total: number | null }>((e) => onReceived(e.bytes, e.total)) }),
  listGallery: (limit: number, offset: number) => invoke<{ total: number; entries: GalleryEntry[] }>('list_gallery', { limit, offset }),
  galleryThumbnail: (id: string, index: number) => invoke<string>('gallery_thumbnail', { id, index }),
  galleryImage: (id: string, index: number) => invoke<string>('gallery_image', { id, index }),
  recheckGeneration: (id: string) => invoke<{ verdict: 'verified' | 'failed'; detail: string }>('recheck_generation', { id }),
  saveGeneration: (id: string, index: number | null, folder: string | null) => invoke<string[] | null>('save_generation', { id, index, folder }),
  deleteGeneration: (id: string) => invoke<void>('delete_generation', { id }),
  imageToWorkspace: (id: string, index: number) => invoke<string>('image_to_workspace', { id, index }),
  readAttachment: (name: string, data: string, password: string | null) =>
    invoke<{ kind: string; text: string; chars: number; truncated: boolean; summary: string; part: string }>('read_attachment', { name, data, password }),
  getReceipt: (conversationId: string, messageUid: string) => invoke<Receipt>('get_receipt', { conversationId, messageUid }),
  recheckReply: (conversationId: string, messageUid: string) => invoke<ReplyCheck>('recheck_reply', { conversationId, messageUid }),
  recheckHistory: () => invoke<ReplyCheck[]>('recheck_history'),
  networkActivity: (sinceMs: number) => invoke<NetworkRecord[]>('network_activity', { sinceMs }),
  listConversations: () => invoke<ConversationSummary[]>('list_conversations'),
  openConversation: (id: string) => invoke<ConversationView>('open_conversation', { id }),
  renameConversation: (id: string, title: string) => invoke<void>('rename_conversation', { id, title }),
  deleteConversation: (id: string) => invoke<void>('delete_conversation', { id }),
  searchHistory: (text: string) => invoke<SearchHit[]>('search_history', { text }),
  runAgentTask: (task: { workspace: string; task: string; model: string | null }, on: (e: AgentEvent) => void) =>
    invoke<AgentResult>('run_agent_task', { task, events: channel(on) }),
  stopAgent: () => invoke<void>('stop_agent'),
  answerApproval: (id: number, approve: boolean) => invoke<void>('answer_approval', { id, approve }),
  pickWorkspace: () => invoke<string | null>('pick_workspace'),
  openResultFile: (path: string) => invoke<'opened' | 'shown in its folder'>('open_result_file', { path }),
  readWorkspaceImage: (path: string) => invoke<string>('read_workspace_image', { path }),
  getSettings: () => invoke<SettingsView>('get_settings'),
  saveSettings: (settings: Settings, writes: string) => invoke<void>('save_settings', { change: { settings, writes } }),
  changePassphrase: (old: string, next: string) => invoke<void>('change_passphrase', { old, new: next }),
  about: () => invoke<About>('about'),
  opengradientLogin: () => invoke<string>('opengradient_login'),
  listProjects: () => invoke<Project[]>('list_projects'),
  openProject: (name: string) => invoke<ProjectView>('open_project', { name }),
  createProject: (name: string, instructions: string, memory: boolean) => invoke<void>('create_project', { name, instructions, memory }),
  updateProject: (name: string, change: { newName?: string; instructions?: string; memory?: boolean }) =>
    invoke<void>('update_project', { name, newName: change.newName ?? null, instructions: change.instructions ?? null, memory: change.memory ?? null }),
  deleteProject: (name: string) => invoke<string[]>('delete_project', { name }),
  addProjectFile: (project: string, name: string, data: string) => invoke<string>('add_project_file', { project, name, data }),
  removeProjectFile: (project: string, fileUid: string) => invoke<void>('remove_project_file', { project, fileUid }),
  moveConversation: (conversationId: string, project: string | null) => invoke<void>('move_conversation', { conversationId, project }),
  searchProject: (name: string, text: string) => invoke<SearchHit[]>('search_project', { name, text }),
  listMemories: () => invoke<{ enabled: boolean; memories: Memory[] }>('list_memories'),
  addMemory: (text: string) => invoke<string>('add_memory', { text }),
  editMemory: (id: string, text: string) => invoke<void>('edit_memory', { id, text }),
  deleteMemory: (id: string) => invoke<void>('delete_memory', { id }),
  setMemoryEnabled: (on: boolean) => invoke<void>('set_memory_enabled', { on }),
};

export function errorText(e: unknown): string {
  return typeof e === 'string' ? e : e instanceof Error ? e.message : JSON.stringify(e);
}
