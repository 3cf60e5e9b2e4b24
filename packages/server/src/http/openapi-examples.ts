/**
 * Examples for the reference: the main request and response bodies of the native API, by
 * operationId. test/openapi.test.ts sends every request example to a real server and compares
 * the answer's fields with the response example, so these cannot drift from what Parley does.
 */
const T0 = '2026-01-15T09:30:00.000Z';
const T1 = '2026-01-15T09:30:02.400Z';
const CONV = 'conv_01KF0Z8J1R5Q0V7M4T2B9XW3NA';
const MSG_USER = 'msg_01KF0Z8J1R5Q0V7M4T2B9XW3NB';
const MSG_BOT = 'msg_01KF0Z8K4D8C6N1H2Y3G5PZ7QC';
const TOOL = 'tool_01KF0Z8JQW2E4R6T8Y0U1I3O5P';

const userMessage = {
  id: MSG_USER,
  conversation_id: CONV,
  role: 'user',
  content: 'Can I get a refund for order 1042?',
  metadata: {},
  created_at: T0,
};
const assistantMessage = {
  id: MSG_BOT,
  conversation_id: CONV,
  role: 'assistant',
  content: 'Yes, the refund for order 1042 is on its way.',
  metadata: { model: 'gpt-4o' },
  created_at: T1,
};
const conversation = {
  id: CONV,
  title: 'Refund for order 1042',
  title_source: 'user',
  user_id: 'user_42',
  bot_id: 'support-bot',
  context: { contact_id: 'contact_7' },
  metadata: { channel: 'web' },
  archived: false,
  message_count: 1,
  tool_invocation_count: 0,
  last_message_at: T0,
  created_at: T0,
  updated_at: T0,
};
const toolInvocation = {
  id: TOOL,
  conversation_id: CONV,
  message_id: null,
  tool_name: 'lookup_order',
  input: { order_id: '1042' },
  output: { refundable: true },
  status: 'succeeded',
  started_at: '2026-01-15T09:30:01.000Z',
  finished_at: '2026-01-15T09:30:02.250Z',
  duration_ms: 1250,
  created_at: '2026-01-15T09:30:01.000Z',
  updated_at: '2026-01-15T09:30:02.250Z',
};

export const OPERATION_EXAMPLES: Record<string, { request?: unknown; responses?: Record<number, unknown> }> = {
  createConversation: {
    request: {
      title: 'Refund for order 1042',
      user_id: 'user_42',
      bot_id: 'support-bot',
      context: { contact_id: 'contact_7' },
      metadata: { channel: 'web' },
      messages: [{ role: 'user', content: 'Can I get a refund for order 1042?' }],
    },
    responses: { 201: { data: { ...conversation, messages: [userMessage] } } },
  },
  listConversations: {
    responses: {
      200: {
        data: [conversation],
        meta: { total: 1, total_exact: true, page: 1, per_page: 25, next_cursor: null },
      },
    },
  },
  getConversation: {
    responses: {
      200: {
        data: {
          ...conversation,
          message_count: 2,
          last_message_at: T1,
          updated_at: T1,
          messages: [assistantMessage, userMessage],
          live_connections: 0,
        },
      },
    },
  },
  updateConversation: {
    request: { title: 'Refund 1042 (done)', archived: true },
    responses: { 200: { data: { ...conversation, title: 'Refund 1042 (done)', archived: true, updated_at: T1 } } },
  },
  createMessage: {
    request: {
      role: 'assistant',
      content: 'Yes, the refund for order 1042 is on its way.',
      metadata: { model: 'gpt-4o' },
    },
    responses: { 201: { data: assistantMessage } },
  },
  listMessages: {
    responses: { 200: { data: [userMessage, assistantMessage], meta: { next_cursor: null } } },
  },
  createToolInvocation: {
    request: {
      tool_name: 'lookup_order',
      input: { order_id: '1042' },
      status: 'running',
      started_at: '2026-01-15T09:30:01.000Z',
    },
    responses: {
      201: {
        data: {
          ...toolInvocation,
          output: null,
          status: 'running',
          finished_at: null,
          duration_ms: null,
          updated_at: '2026-01-15T09:30:01.000Z',
        },
      },
    },
  },
  updateToolInvocation: {
    request: { status: 'succeeded', output: { refundable: true }, finished_at: '2026-01-15T09:30:02.250Z' },
    responses: { 200: { data: toolInvocation } },
  },
  createApiKey: {
    request: { name: 'sidebar for user_42', scopes: ['read:ai', 'write:ai'], user_id: 'user_42' },
    responses: {
      201: {
        data: {
          key: {
            id: 'key_01KF0Z9A7B3C5D7E9F1G3H5J7K',
            name: 'sidebar for user_42',
            prefix: 'prl_N1NXvdhW',
            scopes: ['read:ai', 'write:ai'],
            user_id: 'user_42',
            instance_admin: false,
            rate_limit: null,
            expires_at: null,
            revoked_at: null,
            last_used_at: null,
            created_at: T0,
          },
          secret: 'prl_N1NXvdhWRFdc7LST0H-gaKePExfJJIDfjjJij4mXZ18',
        },
      },
    },
  },
  importConversations: {
    responses: {
      200: {
        data: {
          lines: 5,
          conversations: { created: 2, skipped: 0, failed: 0 },
          messages: { created: 3, skipped: 0, failed: 0 },
          tool_invocations: { created: 0, skipped: 0, failed: 0 },
          errors: 0,
          results: [
            { line: 2, type: 'conversation', status: 'created', id: CONV },
            { line: 5, type: 'chat', status: 'created', id: 'conv_0000000000H3A9N7QW0XJ2K5ZD' },
          ],
          results_truncated: false,
        },
      },
    },
  },
};
