import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import PDFDocument from 'pdfkit';
import type { StatementEntryView, StatementFooterView, StatementHeaderView } from './statements.js';

// A statement as PDF (pdfkit): a title block with the opening balance, a
// table of entries that flows over as many A4 pages as needed, the closing
// balance and totals. Written while the entries arrive; pdfkit emits each
// page when it is done, and the writer waits while more than
// PDF_BUFFERED_BYTES_MAX are unread, so a slow reader holds back the bank's
// stream instead of filling memory.

const PDF_BUFFERED_BYTES_MAX = 1 << 20;
const PDF_READER_WAIT_MS_MAX = 60_000;
const PDF_READER_POLL_MS = 10;
const MARGIN = 40;
const ROW_HEIGHT = 14;
const FONT_SIZE = 8;
/** x offset and width of each column (A4 is 595 pt wide: 515 between the margins). */
const COLUMNS = [
  { title: 'Date (UTC)', x: MARGIN, width: 95 },
  { title: 'Type', x: 137, width: 45 },
  { title: 'Description', x: 184, width: 150 },
  { title: 'Amount', x: 336, width: 70, align: 'right' as const },
  { title: 'Balance', x: 410, width: 75, align: 'right' as const },
  { title: 'Reference', x: 489, width: 66 },
];

type Body = AsyncIterable<{ entries: StatementEntryView[] } | { footer: StatementFooterView }>;

function row(doc: PDFKit.PDFDocument, cells: readonly string[], y: number, font: string): void {
  doc.font(font).fontSize(FONT_SIZE);
  COLUMNS.forEach((column, i) => {
    doc.text(cells[i] ?? '', column.x, y, { width: column.width, align: column.align ?? 'left', lineBreak: false, ellipsis: true, height: ROW_HEIGHT });
  });
}

class TableWriter {
  private y = 0;

  constructor(private readonly doc: PDFKit.PDFDocument) {}

  /** Column titles at the current position (and again at the top of every new page). */
  titles(y: number): void {
    row(this.doc, COLUMNS.map((c) => c.title), y, 'Helvetica-Bold');
    this.y = y + ROW_HEIGHT + 2;
  }

  line(cells: readonly string[]): void {
    if (this.y + ROW_HEIGHT > this.doc.page.height - MARGIN) {
      this.doc.addPage();
      this.titles(MARGIN);
    }
    row(this.doc, cells, this.y, 'Helvetica');
    this.y += ROW_HEIGHT;
  }

  get bottom(): number {
    return this.y;
  }
}

function titleBlock(doc: PDFKit.PDFDocument, header: StatementHeaderView): number {
  doc.font('Helvetica-Bold').fontSize(16).text('Account statement', MARGIN, MARGIN);
  doc.font('Helvetica').fontSize(10);
  doc.text(`Account ${header.accountId} (${header.currency})`);
  doc.text(`From ${header.from} to ${header.to} (end excluded)`);
  doc.text(`Opening balance: ${header.openingBalance} ${header.currency}`);
  return doc.y + 10;
}

function closingBlock(doc: PDFKit.PDFDocument, header: StatementHeaderView, footer: StatementFooterView, y: number): void {
  if (y + 4 * 14 > doc.page.height - MARGIN) {
    doc.addPage();
    y = MARGIN;
  }
  doc.font('Helvetica-Bold').fontSize(10).text(`Closing balance: ${footer.closingBalance} ${header.currency}`, MARGIN, y + 10);
  doc.font('Helvetica').text(`Money in: ${footer.totalIn} ${header.currency}    Money out: ${footer.totalOut} ${header.currency}    Entries: ${footer.entryCount}`);
  // Also in the document information (plain text in the file): checkable without rendering.
  doc.info.Subject = `Opening balance ${header.openingBalance} ${header.currency}; closing balance ${footer.closingBalance} ${header.currency}`;
}

/**
 * Waits while the reader is behind by more than the bound. Polled (a 'data' listener would
 * switch the document to flowing mode before the response pipes it); a reader that takes
 * nothing for PDF_READER_WAIT_MS_MAX ends the statement.
 */
async function readerCaughtUp(doc: PDFKit.PDFDocument): Promise<void> {
  const deadlineMs = Date.now() + PDF_READER_WAIT_MS_MAX;
  while (doc.readableLength > PDF_BUFFERED_BYTES_MAX && !doc.destroyed) {
    if (Date.now() > deadlineMs) throw new Error(`the statement's reader took nothing for ${PDF_READER_WAIT_MS_MAX} ms`);
    await sleep(PDF_READER_POLL_MS);
  }
}

async function writeStatement(doc: PDFKit.PDFDocument, header: StatementHeaderView, body: Body): Promise<void> {
  const table = new TableWriter(doc);
  table.titles(titleBlock(doc, header));
  for await (const piece of body) {
    if (doc.destroyed) return;
    if ('entries' in piece) {
      for (const e of piece.entries) table.line([e.createdAt.replace('T', ' ').replace('Z', ''), e.type, e.description, e.amount, e.balance, e.referenceId.slice(0, 8)]);
      await readerCaughtUp(doc);
    } else {
      closingBlock(doc, header, piece.footer, table.bottom);
    }
  }
  doc.end();
}

/** The PDF as a readable stream; a failure of the bank's stream destroys it (the response is cut, never completed). */
export function statementPdf(header: StatementHeaderView, body: Body): Readable {
  const doc = new PDFDocument({ size: 'A4', margin: MARGIN, info: { Title: `Statement ${header.accountId} ${header.from} – ${header.to}`, Producer: 'e-wallet' } });
  writeStatement(doc, header, body).catch((error: unknown) => doc.destroy(error as Error));
  return doc;
}
