/**
 * Word lists for generated conversations, written for Parley. Common words come first: the
 * generator picks by a Zipf-like rank, so early words are very common and late ones rare, which
 * gives search benchmarks terms across the whole frequency range.
 */
export interface Language {
  tag: string;
  /** Whether words are joined without spaces (CJK). */
  joined: boolean;
  words: string[];
}

const en = `the to and of a in is you that it for on with this can be your have are we as at from or
an will i by not if about what all there more so my which would when do one their they has please
thanks need help how could should here deal contract invoice customer account order meeting report
draft email summary quarter revenue pipeline forecast budget review call schedule update status
renewal pricing discount proposal legal clause signature onboarding support ticket refund shipment
delivery warehouse inventory supplier partner campaign launch metrics dashboard analytics churn
retention cohort segment funnel conversion lead prospect opportunity stage closing negotiation
procurement compliance audit security policy encryption backup migration database latency outage
incident postmortem roadmap milestone sprint backlog estimate deadline handoff stakeholder escalation
acme globex initech umbrella hooli stark wayne tyrell cyberdyne soylent vandelay wonka oscorp
kubernetes terraform postgres redis kafka webhook oauth token sandbox staging production rollback
mortgage underwriting actuarial reinsurance subrogation indemnity arbitration deposition affidavit
photosynthesis mitochondria thermodynamics entropy isotope catalyst polymer enzyme genome protein
zeppelin quasar nebula aurora glacier volcano archipelago peninsula savanna tundra monsoon fjord`;

const es = `el la de que y a en un ser se no haber por con su para como estar tener le lo todo pero más
hacer o poder decir este ir otro ese si me ya ver porque dar cuando muy sin vez mucho saber qué sobre
mi alguno mismo yo también hasta año dos querer entre así primero desde grande eso ni nos llegar
pasar tiempo ella sí día uno bien poco deber entonces poner cosa tanto hombre parecer nuestro tan
donde ahora parte después vida quedar siempre creer hablar llevar dejar nada cada seguir menos nuevo
encontrar factura contrato cliente pedido reunión informe borrador presupuesto renovación envío
almacén proveedor campaña lanzamiento señal cumpleaños montaña corazón canción acción información`;

const fr = `le de un être et à il avoir ne je son que se qui ce dans en du elle au pour pas que vous par
sur faire plus dire me on mon lui nous comme mais pouvoir avec tout y aller voir en bien où sans tu ou
leur homme si deux mari moi vouloir te femme venir quand grand celui notre devoir là jour prendre même
votre tout rien petit encore aussi quelque dont tout mer trouver donner temps ça peu même falloir
facture contrat client commande réunion rapport brouillon budget renouvellement livraison entrepôt
fournisseur campagne lancement élève garçon été hôpital château forêt fenêtre théâtre cœur naïve`;

const de = `der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an
werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben
nur oder aber vor zur bis mehr durch man sein wurde sei rechnung vertrag kunde bestellung besprechung
bericht entwurf haushalt verlängerung lieferung lager lieferant kampagne markteinführung straße
größe über müssen grüße mädchen bäckerei schlüssel fußball häuser zuverlässigkeit geschäftsführung`;

const ja = `会議 請求書 契約 顧客 注文 報告書 下書き 予算 更新 配送 倉庫 仕入先 キャンペーン 発売 東京 大阪
売上 見積もり 確認 お願い ありがとう 問題 解決 担当者 資料 日程 調整 提案 承認 完了 予定 連絡 対応`;

const zh = `会议 发票 合同 客户 订单 报告 草稿 预算 续约 发货 仓库 供应商 活动 发布 北京 上海 销售 报价
确认 谢谢 问题 解决 负责人 资料 日程 安排 建议 批准 完成 计划 联系 处理`;

const split = (s: string) => s.split(/\s+/).filter(Boolean);

export const LANGUAGES: Language[] = [
  { tag: 'en', joined: false, words: split(en) },
  { tag: 'es', joined: false, words: split(es) },
  { tag: 'fr', joined: false, words: split(fr) },
  { tag: 'de', joined: false, words: split(de) },
  { tag: 'ja', joined: true, words: split(ja) },
  { tag: 'zh', joined: true, words: split(zh) },
];

/** Share of conversations per language. */
export const LANGUAGE_WEIGHTS = [0.7, 0.1, 0.08, 0.06, 0.03, 0.03];

export const EMOJI = ['🎉', '👍', '🚀', '🙏', '😅', '✅', '📈', '👩‍💻', '🇯🇵'];

export const TOOLS = [
  'crm.lookup_contact',
  'crm.update_deal',
  'web_search',
  'calendar.create_event',
  'email.draft',
  'docs.retrieve',
  'sql.query',
  'tickets.create',
];

export const BOTS = ['sidebar', 'support-bot', 'copilot', 'research'];
