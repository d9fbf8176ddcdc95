export const id = 92;
export const ids = [92];
export const modules = {

/***/ 21092:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  build: () => (/* binding */ build)
});

// UNUSED EXPORTS: checkBuild

// EXTERNAL MODULE: external "node:child_process"
var external_node_child_process_ = __webpack_require__(31421);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(51455);
// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __webpack_require__(48161);
var external_node_os_default = /*#__PURE__*/__webpack_require__.n(external_node_os_);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(76760);
var external_node_path_default = /*#__PURE__*/__webpack_require__.n(external_node_path_);
// EXTERNAL MODULE: external "node:util"
var external_node_util_ = __webpack_require__(57975);
// EXTERNAL MODULE: ./node_modules/@actions/artifact/lib/artifact.js + 107 modules
var artifact = __webpack_require__(67458);
// EXTERNAL MODULE: ./node_modules/@actions/cache/lib/cache.js + 91 modules
var cache = __webpack_require__(18091);
// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(77598);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(73024);
// EXTERNAL MODULE: ./shared/errors.ts
var errors = __webpack_require__(32635);
;// CONCATENATED MODULE: ./shared/bundle/rules.ts

/** A link whose lookup passes through more links than this is refused, as the kernel does (ELOOP). */
const MAX_LINKS_FOLLOWED = 40;
/** The longest name a Linux file system takes for one path component (NAME_MAX). */
const MAX_NAME_BYTES = 255;
/** The longest path (or symlink target) the kernel takes: PATH_MAX, less its NUL. */
const MAX_PATH_BYTES = 4095;
/** How an entry is named in an error: its path is untrusted, so quoted, escaped and bounded. */
function rules_entrySubject(path, kind) {
    return `${kind === 'symlink' ? 'symlink' : 'entry'} ${(0,errors/* quoted */.TL)(path)}`;
}
/** Bytes that may not be UTF-8, quoted: printable ASCII as is, any other byte (and `"`, `\`) as `\xNN`. */
function rules_quotedBytes(bytes) {
    let out = '';
    for (const byte of bytes.subarray(0, 400)) {
        const plain = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
        out += plain ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
    }
    return `"${out}${bytes.length > 400 ? '…' : ''}"`;
}
/** A `.` or `..` component: a path without one (and without `//`) is in normal form already. */
const DOT_COMPONENT = /(?:^|\/)\.\.?(?:\/|$)/;
/**
 * A path as written in a pattern or a tar header, normalised: `.` and empty components dropped,
 * a trailing `/` ignored, `''` for the root. Refuses what could land outside the root: an
 * absolute path and any `..` component, wherever it stands. `subject` names it in errors.
 */
function rules_normalisePath(path, subject) {
    if (path.includes('\0')) {
        throw new errors/* ConfigurationError */.j1({ subject: subject(), problem: 'contains a NUL byte' });
    }
    if (path.startsWith('/')) {
        throw new errors/* ConfigurationError */.j1({
            subject: subject(),
            problem: 'is absolute',
            expected: 'a path relative to the root',
        });
    }
    const trimmed = path.replace(/\/+$/, '');
    if (!trimmed.includes('//') && !DOT_COMPONENT.test(trimmed))
        return trimmed;
    const parts = path.split('/').filter((part) => part !== '' && part !== '.');
    if (parts.includes('..')) {
        throw new errors/* ConfigurationError */.j1({
            subject: subject(),
            problem: "contains '..'",
            expected: 'a path inside the root',
        });
    }
    return parts.join('/');
}
/** A bundle must hold something to run: at least one file or symlink. */
function rules_refuseEmpty(contents) {
    if (contents === 0) {
        throw new errors/* ConfigurationError */.j1({
            subject: 'the bundle',
            problem: 'is empty',
            expected: 'at least one file or symlink',
        });
    }
}
/**
 * Orders paths by their UTF-8 bytes, as `LC_ALL=C sort` does. JavaScript compares UTF-16 code
 * units, which puts U+E000..U+FFFF after the surrogates of characters beyond U+FFFF; UTF-8 puts
 * them before.
 */
function compareUtf8(a, b) {
    const length = Math.min(a.length, b.length);
    for (let i = 0; i < length; i++) {
        const x = a.charCodeAt(i);
        const y = b.charCodeAt(i);
        if (x === y)
            continue;
        const xSurrogate = x >= 0xd800 && x <= 0xdfff;
        const ySurrogate = y >= 0xd800 && y <= 0xdfff;
        if (xSurrogate !== ySurrogate)
            return xSurrogate ? 1 : -1;
        return x - y;
    }
    return a.length - b.length;
}
/**
 * What a file's place in its directory holds: files are most of a bundle, and all the rules need
 * of one is that it is there, so every file is this one node, with no path or parent of its own
 * (a large tree's were megabytes of heap for the length of the check).
 */
const FILE = { kind: 'file', parent: undefined, path: '' };
/**
 * The rules every entry of a bundle obeys, checked the same way when a bundle is packed and when
 * one is unpacked: only files, directories and symlinks; names and paths a host's file system
 * takes; no path written twice or through a symlink; no symlink that resolves outside the
 * bundle, even through other symlinks. The cost is linear in the entries' paths and targets:
 * each path is looked up once, each link resolved once.
 */
class rules_BundleRules {
    #root = { kind: 'directory', parent: undefined, path: '' };
    #nodes = new Map([['', this.#root]]);
    #links = [];
    /** Where each link leads, once resolved through other links; `undefined` while resolving. */
    #resolved = new Map();
    /**
     * Admits one entry by its normalised path (components joined by `/`). Directories implied by
     * a path count as directories, so a later symlink or file at that path is a duplicate.
     */
    admit(path, kind, linkTarget) {
        checkLengths(path, kind, linkTarget);
        const parent = this.#directoryOf(path);
        const name = path.slice(path.lastIndexOf('/') + 1);
        const existing = parent.children?.get(name);
        if (existing !== undefined) {
            if (existing.kind === 'directory' && kind === 'directory')
                return;
            throw new errors/* ConfigurationError */.j1({ subject: rules_entrySubject(path), problem: 'appears twice' });
        }
        if (kind === 'file') {
            (parent.children ??= new Map()).set(name, FILE);
            return;
        }
        const node = this.#add(parent, name, kind, path);
        if (kind !== 'symlink')
            return;
        const target = linkTarget ?? '';
        if (target === '') {
            throw new errors/* ConfigurationError */.j1({
                subject: rules_entrySubject(path, kind),
                problem: 'has an empty target',
            });
        }
        if (target.startsWith('/')) {
            throw new errors/* ConfigurationError */.j1({
                subject: rules_entrySubject(path, kind),
                problem: 'points to an absolute path',
                expected: 'a relative target inside the bundle',
                got: (0,errors/* quoted */.TL)(target),
            });
        }
        node.target = target;
        this.#links.push(node);
        this.#walk({ node: parent, below: 0 }, target, { from: node, follow: false });
    }
    /**
     * Checks what only the whole bundle can tell: symlinks that escape only through other
     * symlinks (`a -> d/l/..` with `d/l -> ..`).
     */
    finish() {
        for (const link of this.#links)
            this.#follow(link, link);
    }
    /** The directory node an entry goes into, adding the directories its path implies. */
    #directoryOf(path) {
        const missing = [];
        let cut = path.lastIndexOf('/');
        let found = this.#root;
        while (cut !== -1) {
            const parent = path.slice(0, cut);
            const node = this.#nodes.get(parent);
            if (node !== undefined) {
                if (node.kind === 'directory') {
                    found = node;
                    break;
                }
                // Only directories and symlinks are nodes by path: a file is found below, in its directory.
                throw new errors/* ConfigurationError */.j1({
                    subject: `${rules_entrySubject(path)} below the symlink ${(0,errors/* quoted */.TL)(parent)}`,
                    problem: 'would be written through the symlink',
                });
            }
            missing.push(parent);
            cut = parent.lastIndexOf('/');
        }
        for (const parent of missing.reverse()) {
            const name = parent.slice(parent.lastIndexOf('/') + 1);
            if (found.children?.get(name) === FILE) {
                throw new errors/* ConfigurationError */.j1({
                    subject: `${rules_entrySubject(path)} below the file ${(0,errors/* quoted */.TL)(parent)}`,
                    problem: 'cannot be written below a file',
                });
            }
            found = this.#add(found, name, 'directory', parent);
        }
        return found;
    }
    #add(parent, name, kind, path) {
        const node = { kind, parent, path };
        parent.children ??= new Map();
        parent.children.set(name, node);
        this.#nodes.set(path, node);
        return node;
    }
    /** Where `link` leads and how many links that takes; memoised, so each link is walked once. */
    #follow(link, origin) {
        const known = this.#resolved.get(link);
        if (known !== undefined)
            return known;
        if (this.#resolved.has(link))
            throw tooDeep(origin);
        this.#resolved.set(link, undefined);
        const start = { node: link.parent ?? this.#root, below: 0 };
        const end = this.#walk(start, link.target ?? '', { from: origin, follow: true });
        this.#resolved.set(link, end);
        return end;
    }
    /**
     * Walks a target from `position`, one component at a time; throws if any step climbs above
     * the root. Links on the way are followed only once every entry is in (`follow`), counted as
     * the kernel counts them: every link a lookup passes through, nested or not.
     */
    #walk(position, target, options) {
        let { node, below } = position;
        let follows = 0;
        for (const part of target.split('/')) {
            if (part === '' || part === '.')
                continue;
            if (part === '..') {
                if (below > 0)
                    below--;
                else if (node.parent !== undefined)
                    node = node.parent;
                else {
                    throw new errors/* ConfigurationError */.j1({
                        subject: rules_entrySubject(options.from.path, 'symlink'),
                        problem: 'points outside the bundle',
                        got: (0,errors/* quoted */.TL)(options.from.target ?? target),
                    });
                }
                continue;
            }
            const child = below === 0 ? node.children?.get(part) : undefined;
            // Below a file, as below what the bundle does not hold: `..` comes back to its directory.
            if (child === undefined || child === FILE)
                below++;
            else if (child.kind === 'symlink' && options.follow) {
                const next = this.#follow(child, options.from);
                follows += 1 + next.follows;
                if (follows > MAX_LINKS_FOLLOWED)
                    throw tooDeep(options.from);
                ({ node, below } = next);
            }
            else
                node = child;
        }
        return { node, below, follows };
    }
}
function tooDeep(link) {
    return new errors/* ConfigurationError */.j1({
        subject: rules_entrySubject(link.path, 'symlink'),
        problem: 'is part of a loop or a chain too deep',
    });
}
/** Names and paths a host's file system takes: what GNU tar there could not create is refused here. */
function checkLengths(path, kind, linkTarget) {
    const refuse = (problem, expected) => new errors/* ConfigurationError */.j1({ subject: rules_entrySubject(path, kind), problem, expected });
    const bytes = Buffer.byteLength(path);
    if (bytes > MAX_PATH_BYTES) {
        throw refuse(`has a path of ${bytes} bytes`, `at most ${MAX_PATH_BYTES} (PATH_MAX)`);
    }
    // A name of fewer than 86 UTF-16 units is under 256 bytes: only longer ones are measured.
    for (let start = 0; bytes > MAX_NAME_BYTES && start <= path.length;) {
        const slash = path.indexOf('/', start);
        const end = slash === -1 ? path.length : slash;
        const length = end - start > MAX_NAME_BYTES / 3 ? Buffer.byteLength(path.slice(start, end)) : 0;
        if (length > MAX_NAME_BYTES) {
            throw refuse(`has a name of ${length} bytes`, `at most ${MAX_NAME_BYTES} (NAME_MAX)`);
        }
        start = end + 1;
    }
    const targetBytes = linkTarget === undefined ? 0 : Buffer.byteLength(linkTarget);
    if (targetBytes > MAX_PATH_BYTES) {
        throw refuse(`has a target of ${targetBytes} bytes`, `at most ${MAX_PATH_BYTES} (PATH_MAX)`);
    }
}

;// CONCATENATED MODULE: ./shared/bundle/entries.ts




const GLOB_MAGIC = /[*?[\]{}]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const ONLY_THREE_KINDS = 'a bundle holds only files, directories and symlinks';
/**
 * Expands the build's `path` lines (files, directories or globs, relative to `root`) into the
 * bundle's entries: directories recursively, each entry's parent directories included, symlinks
 * kept as symlinks, sorted by path in byte order. Refuses anything a reproducible, safe bundle
 * cannot hold, naming the path and the rule, by the same rules a bundle is checked by before it
 * reaches a host. Errors concern the `path` lines; the caller names the input.
 */
async function resolveEntries(root, patterns) {
    const base = (0,external_node_path_.resolve)(root);
    // The root itself may be reached through a symlink (a working directory often is).
    const rootStats = await (0,promises_.stat)(base).catch(() => undefined);
    if (!rootStats?.isDirectory()) {
        throw new errors/* ConfigurationError */.j1({
            subject: `bundle root ${(0,errors/* quoted */.TL)(root)}`,
            problem: 'is not a directory',
        });
    }
    const tree = new Tree(base);
    for (const pattern of patterns) {
        const matches = await expand(base, pattern);
        if (matches.length === 0) {
            throw new errors/* ConfigurationError */.j1({ subject: (0,errors/* quoted */.TL)(pattern), problem: 'matches nothing' });
        }
        for (const match of matches)
            await tree.addMatch(match);
    }
    const entries = tree.sorted();
    const rules = new rules_BundleRules();
    let contents = 0;
    for (const entry of entries) {
        rules.admit(entry.path, entry.kind, entry.linkTarget);
        if (entry.kind !== 'directory')
            contents++;
    }
    rules.finish();
    rules_refuseEmpty(contents);
    return entries;
}
/** The entries found so far, each path once. */
class Tree {
    base;
    #found = new Map();
    constructor(base) {
        this.base = base;
    }
    /** A path a pattern matched (`''`: the root), with its parents and, for a directory, all below. */
    async addMatch(match) {
        if (match === '') {
            await this.#walk('');
            return;
        }
        await this.#addParents(match);
        await this.#add(match, await (0,promises_.lstat)((0,external_node_path_.join)(this.base, match)));
    }
    sorted() {
        return [...this.#found.values()].sort((a, b) => compareUtf8(a.path, b.path));
    }
    async #add(path, stats) {
        if (this.#found.has(path))
            return;
        const entry = await describe(this.base, path, stats);
        this.#found.set(path, entry);
        if (entry.kind === 'directory')
            await this.#walk(path);
    }
    async #walk(directory) {
        const children = await (0,promises_.readdir)((0,external_node_path_.join)(this.base, directory), {
            withFileTypes: true,
            encoding: 'buffer',
        });
        const paths = children.map((child) => childPath(directory, child));
        const stats = await Promise.all(paths.map((path) => (0,promises_.lstat)((0,external_node_path_.join)(this.base, path))));
        for (const [index, path] of paths.entries())
            await this.#add(path, stats[index]);
    }
    /** Adds the directories above a match, nearest first, stopping at one already found. */
    async #addParents(path) {
        for (let cut = path.lastIndexOf('/'); cut !== -1; cut = path.lastIndexOf('/', cut - 1)) {
            const parent = path.slice(0, cut);
            const known = this.#found.get(parent);
            if (known?.kind === 'directory')
                return;
            const stats = known === undefined ? await (0,promises_.lstat)((0,external_node_path_.join)(this.base, parent)) : undefined;
            if (known !== undefined || !stats?.isDirectory()) {
                throw new errors/* ConfigurationError */.j1({
                    subject: `${rules_entrySubject(path)} below the symlink ${(0,errors/* quoted */.TL)(parent)}`,
                    problem: 'is reached through the symlink',
                    hint: 'name the link itself or its target',
                });
            }
            this.#found.set(parent, directoryEntry(parent));
        }
    }
}
/** The paths one pattern names, relative to the root; `''` stands for the root itself. */
async function expand(base, pattern) {
    const literal = rules_normalisePath(pattern, () => (0,errors/* quoted */.TL)(pattern));
    if (literal === '')
        return [''];
    if (await lstatOrUndefined((0,external_node_path_.join)(base, literal)))
        return [literal];
    if (!GLOB_MAGIC.test(pattern))
        return [];
    const matches = [];
    for await (const match of (0,promises_.glob)(pattern, { cwd: base })) {
        matches.push(rules_normalisePath(match, () => (0,errors/* quoted */.TL)(pattern)));
    }
    return matches;
}
async function describe(base, path, stats) {
    if (stats.isDirectory())
        return directoryEntry(path);
    if (stats.isFile()) {
        return { path, kind: 'file', size: stats.size, executable: (stats.mode & 0o111) !== 0 };
    }
    if (stats.isSymbolicLink()) {
        const linkTarget = await (0,promises_.readlink)((0,external_node_path_.join)(base, path));
        return { path, kind: 'symlink', size: 0, executable: false, linkTarget };
    }
    const what = stats.isFIFO()
        ? 'a fifo'
        : stats.isSocket()
            ? 'a socket'
            : stats.isCharacterDevice() || stats.isBlockDevice()
                ? 'a device'
                : 'not a file';
    throw new errors/* ConfigurationError */.j1({
        subject: rules_entrySubject(path),
        problem: `is ${what}`,
        hint: ONLY_THREE_KINDS,
    });
}
function directoryEntry(path) {
    return { path, kind: 'directory', size: 0, executable: true };
}
function childPath(directory, child) {
    let name;
    try {
        name = utf8.decode(child.name);
    }
    catch {
        throw new errors/* ConfigurationError */.j1({
            subject: `entry ${rules_quotedBytes(Buffer.concat([Buffer.from(directory ? `${directory}/` : ''), child.name]))}`,
            problem: 'has a name that is not valid UTF-8',
            hint: 'a bundle’s names are UTF-8, as every host reads them',
        });
    }
    return directory ? `${directory}/${name}` : name;
}
async function lstatOrUndefined(path) {
    try {
        return await (0,promises_.lstat)(path);
    }
    catch (error) {
        if (error.code === 'ENOENT')
            return undefined;
        throw error;
    }
}

// EXTERNAL MODULE: external "node:events"
var external_node_events_ = __webpack_require__(78474);
// EXTERNAL MODULE: external "node:stream/promises"
var external_node_stream_promises_ = __webpack_require__(46466);
// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __webpack_require__(57075);
// EXTERNAL MODULE: external "node:zlib"
var external_node_zlib_ = __webpack_require__(38522);
var external_node_zlib_default = /*#__PURE__*/__webpack_require__.n(external_node_zlib_);
;// CONCATENATED MODULE: ./shared/bundle/zstd-frames.ts


/** A stream that is not zstd as RFC 8878 lays it out. */
class zstd_frames_ZstdFormatError extends (/* unused pure expression or super */ null && (Error)) {
}
const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** The bytes of each field read whole before it is looked at. */
const FIELD_BYTES = { magic: 4, 'skippable-size': 4, descriptor: 1, 'block-header': 3 };
/** Splits a zstd stream at its frames' ends, as the bytes come. */
class ZstdFrameSplitter {
    #state = { at: 'magic' };
    /** Bytes of a field read so far: a magic number, a descriptor, a block header. */
    #field = [];
    #skippable = false;
    /** The pieces of `chunk`, cut where frames end. */
    push(chunk) {
        const pieces = [];
        let start = 0;
        let at = 0;
        while (at < chunk.length) {
            const ended = this.#step(chunk, at);
            at = ended.at;
            if (ended.frameEnded) {
                pieces.push({ bytes: chunk.subarray(start, at), last: true, skippable: this.#skippable });
                start = at;
            }
        }
        if (start < chunk.length) {
            pieces.push({ bytes: chunk.subarray(start), last: false, skippable: this.#skippable });
        }
        return pieces;
    }
    /** Throws unless the stream ended between frames. */
    end() {
        if (this.#state.at !== 'magic' || this.#field.length > 0) {
            throw new zstd_frames_ZstdFormatError('the data ends inside a frame');
        }
    }
    /** Reads from `at` as far as the current field or run of bytes goes. */
    #step(chunk, at) {
        const state = this.#state;
        switch (state.at) {
            case 'skipping':
            case 'block':
            case 'checksum':
            case 'header': {
                const count = Math.min(state.left, chunk.length - at);
                state.left -= count;
                if (state.left > 0)
                    return { at: at + count, frameEnded: false };
                return { at: at + count, frameEnded: this.#after(state) };
            }
            default: {
                const size = FIELD_BYTES[state.at];
                while (this.#field.length < size && at < chunk.length)
                    this.#field.push(chunk[at++] ?? 0);
                if (this.#field.length < size)
                    return { at, frameEnded: false };
                const field = this.#field;
                this.#field = [];
                return { at, frameEnded: this.#read(field) };
            }
        }
    }
    /** A field read whole: moves to what follows it; true when that ends a frame. */
    #read(field) {
        const state = this.#state;
        const value = (field[0] ?? 0) | ((field[1] ?? 0) << 8) | ((field[2] ?? 0) << 16);
        switch (state.at) {
            case 'magic': {
                const magic = (value | ((field[3] ?? 0) << 24)) >>> 0;
                if (magic === FRAME_MAGIC) {
                    this.#skippable = false;
                    this.#state = { at: 'descriptor' };
                }
                else if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
                    this.#skippable = true;
                    this.#state = { at: 'skippable-size' };
                }
                else {
                    throw new zstd_frames_ZstdFormatError('a frame does not start with zstd’s magic number');
                }
                return false;
            }
            case 'skippable-size': {
                const left = (value | ((field[3] ?? 0) << 24)) >>> 0;
                this.#state = { at: 'skipping', left };
                return left === 0 ? this.#after(this.#state) : false;
            }
            case 'descriptor': {
                const descriptor = value;
                if ((descriptor & 0x08) !== 0)
                    throw new zstd_frames_ZstdFormatError('a frame header sets its reserved bit');
                const singleSegment = (descriptor & 0x20) !== 0;
                const fcsFlag = descriptor >> 6;
                const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag] ?? 0;
                const dictionaryBytes = [0, 1, 2, 4][descriptor & 0x03] ?? 0;
                const left = (singleSegment ? 0 : 1) + dictionaryBytes + fcsBytes;
                const checksum = (descriptor & 0x04) !== 0;
                this.#state = { at: 'header', left, checksum };
                return left === 0 ? this.#after(this.#state) : false;
            }
            case 'block-header': {
                const last = (value & 1) === 1;
                const type = (value >> 1) & 3;
                const size = value >>> 3;
                if (type === 3)
                    throw new zstd_frames_ZstdFormatError('a block has the reserved type');
                const left = type === 1 ? 1 : size;
                this.#state = { at: 'block', left, last, checksum: state.checksum };
                return left === 0 ? this.#after(this.#state) : false;
            }
            default:
                return false;
        }
    }
    /** A run of bytes read whole: moves to what follows it; true when that ends a frame. */
    #after(state) {
        switch (state.at) {
            case 'header':
                this.#state = { at: 'block-header', checksum: state.checksum };
                return false;
            case 'block':
                if (!state.last) {
                    this.#state = { at: 'block-header', checksum: state.checksum };
                    return false;
                }
                if (state.checksum) {
                    this.#state = { at: 'checksum', left: 4 };
                    return false;
                }
                this.#state = { at: 'magic' };
                return true;
            default:
                this.#state = { at: 'magic' };
                return true;
        }
    }
}
/** The pieces of a zstd stream, cut where its frames end; throws if it ends inside one. */
async function* splitZstdFrames(source) {
    const splitter = new ZstdFrameSplitter();
    for await (const chunk of source)
        yield* splitter.push(chunk);
    splitter.end();
}
/** One frame's bytes, from its first piece to its last. */
async function* frameBytes(pieces, first) {
    let piece = first;
    if (piece.bytes.length > 0)
        yield piece.bytes;
    while (!piece.last) {
        const next = await pieces.next();
        if (next.done)
            throw new zstd_frames_ZstdFormatError('the data ends inside a frame');
        piece = next.value;
        if (piece.bytes.length > 0)
            yield piece.bytes;
    }
}
/**
 * Decompresses a zstd stream of any number of frames, each by a stream of its own, checking
 * that each took its frame whole. `chunkSize`: the bytes each piece of output holds at most;
 * `onFrame` is told of each frame once its output has all been handed on.
 */
async function* zstd_frames_decompressZstd(source, chunkSize, onFrame) {
    const pieces = splitZstdFrames(source)[Symbol.asyncIterator]();
    for (let next = await pieces.next(); !next.done; next = await pieces.next()) {
        const first = next.value;
        if (first.skippable) {
            let compressed = 0;
            for await (const skipped of frameBytes(pieces, first))
                compressed += skipped.length;
            onFrame?.({ compressed, decompressed: 0 });
            continue;
        }
        let frameLength = 0;
        async function* counted() {
            for await (const bytes of frameBytes(pieces, first)) {
                frameLength += bytes.length;
                yield bytes;
            }
        }
        const decompressor = zlib.createZstdDecompress({ chunkSize });
        let done;
        const settled = new Promise((resolve) => (done = resolve));
        const output = pipeline(Readable.from(counted()), decompressor, (error) => done(error));
        let decompressed = 0;
        for await (const chunk of output) {
            decompressed += chunk.length;
            yield chunk;
        }
        const failure = await settled;
        if (failure)
            throw failure;
        // A frame the library took for whole before its last byte: the rest would be lost.
        if (decompressor.bytesWritten !== frameLength) {
            throw new zstd_frames_ZstdFormatError('a frame ends before the end its blocks give');
        }
        onFrame?.({ compressed: frameLength, decompressed });
    }
}

;// CONCATENATED MODULE: ./shared/bundle/compression.ts





/**
 * Tar bytes per compressed frame. Each frame is compressed on its own in libuv's pool, which is
 * how packing keeps up with `zstd -T0`; zstd, gzip and every tar that calls them read
 * concatenated frames (gzip members) as one stream. Node's zstd streams are not used: with
 * worker threads they fail (nodejs/node#59899), and `end()` with writes queued appends an empty
 * frame (nodejs/node#66078), which would make the bytes depend on timing.
 */
const FRAME_BYTES = 2 * 1024 * 1024;
const ZSTD_LEVEL = 3;
const GZIP_LEVEL = 6;
/** The OS byte of a gzip header: zlib writes the platform it was built for; Unix everywhere. */
const GZIP_OS_UNIX = 3;
const zstdCompress = (0,external_node_util_.promisify)((external_node_zlib_default()).zstdCompress);
const gzip = (0,external_node_util_.promisify)((external_node_zlib_default()).gzip);
/**
 * Output a compression of the runner's streams writes at once. zlib allocates its output buffer
 * at the `chunkSize` it is given and copies the result out: sized for the frame (2 MiB), each
 * frame left 2 MiB of garbage that V8 frees only every 64 MiB of it, where a frame of text
 * compresses to a few hundred KiB, one or two of these. Each more piece is a trip to libuv's
 * pool and back, though: packing, where the frames may not compress at all and memory is not
 * kept down, asks for the frame's size, one trip.
 */
const WIRE_OUTPUT_CHUNK = (/* unused pure expression or super */ null && (256 * 1024));
/**
 * One frame: a complete zstd frame or gzip member of its own. `outputChunk`: the bytes of each
 * piece of output zlib writes; by default all of it at once.
 */
async function compressFrame(data, compression, outputChunk = data.length + 1024) {
    const chunkSize = Math.min(data.length + 1024, outputChunk);
    if (compression === 'zstd') {
        return zstdCompress(data, {
            chunkSize,
            params: {
                [(external_node_zlib_default()).constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL,
                [(external_node_zlib_default()).constants.ZSTD_c_checksumFlag]: 1,
            },
        });
    }
    const member = await gzip(data, { level: GZIP_LEVEL, chunkSize });
    member[9] = GZIP_OS_UNIX;
    return member;
}
/**
 * Bytes a decompressing stream hands out at once. Each piece is a trip to libuv's pool and back:
 * at zlib's default of 16 KiB, a 1 GiB bundle is 65,536 of them, and the trips, not the work,
 * set the pace.
 */
const DECOMPRESS_CHUNK = (/* unused pure expression or super */ null && (512 * 1024));
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** What the first bytes of a bundle say it is compressed with; `undefined` for a plain tar. */
function detectCompression(head) {
    if (head.subarray(0, 4).equals(ZSTD_MAGIC))
        return 'zstd';
    if (head.subarray(0, 2).equals(GZIP_MAGIC))
        return 'gzip';
    return undefined;
}
/**
 * Decompresses a bundle: zstd or gzip as its magic bytes say, or as `expected` insists; a plain
 * tar passes through when nothing is expected. `onFrame` is told of each zstd frame.
 */
async function* compression_decompress(source, expected, onFrame) {
    const iterator = source[Symbol.asyncIterator]();
    const head = [];
    let headLength = 0;
    while (headLength < ZSTD_MAGIC.length) {
        const next = await iterator.next();
        if (next.done)
            break;
        head.push(next.value);
        headLength += next.value.length;
    }
    const first = Buffer.concat(head);
    const found = detectCompression(first);
    if (expected !== undefined && found !== expected) {
        throw new ConfigurationError({
            subject: 'the bundle',
            expected: `${expected}-compressed data`,
            got: `data that starts like ${found ?? 'a plain tar'}`,
        });
    }
    async function* all() {
        if (first.length > 0)
            yield first;
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
            yield next.value;
        }
    }
    if (found === undefined) {
        yield* all();
        return;
    }
    // zstd frame by frame (zstd-frames.ts); gzip's stream reads member after member itself.
    const output = found === 'zstd'
        ? decompressZstd(all(), DECOMPRESS_CHUNK, onFrame)
        : pipeline(Readable.from(all()), zlib.createGunzip({ chunkSize: DECOMPRESS_CHUNK }), () => undefined);
    try {
        for await (const chunk of output)
            yield chunk;
    }
    catch (error) {
        // zlib's own errors say the data is bad; anything else (a read error) passes unchanged.
        const code = error.code ?? '';
        if (!(error instanceof ZstdFormatError) && !/^(Z_|ZSTD_error_)/.test(code))
            throw error;
        throw new ConfigurationError({
            subject: 'the bundle',
            problem: `is not valid ${found} data`,
            got: error.message,
        });
    }
}

;// CONCATENATED MODULE: ./shared/bundle/frames.ts




/** Frames laid out ahead of the one being written: enough to keep reads and compression busy. */
const FRAMES_AHEAD = 4;
/** File reads in flight at once. */
const READS = 16;
/** Frames compressed at once: one per core, leaving libuv's pool a thread for the reads. */
const COMPRESSIONS = Math.max(1, Math.min((0,external_node_os_.availableParallelism)(), 3));
/**
 * Lays a tar stream out into fixed-size frames and compresses each on its own. File contents are
 * read straight into the frame where they belong, many files at once, so nothing is copied twice
 * and memory holds a handful of frames whatever the size of the tree. Frames are cut at fixed
 * offsets, so the output depends on the bytes alone, never on timing.
 */
class FrameWriter {
    #compression;
    #emit;
    #pool = [];
    #queue = [];
    #reads = new Slots(READS);
    #compressions = new Slots(COMPRESSIONS);
    #outputChunk;
    #frame;
    /** `outputChunk`: what compressFrame's output comes in; by default a frame's in one piece. */
    constructor(compression, emit, outputChunk) {
        this.#compression = compression;
        this.#emit = emit;
        this.#outputChunk = outputChunk;
        this.#frame = this.#newFrame();
    }
    /** Appends bytes held in memory: headers, the end of the archive. */
    async put(bytes) {
        let offset = 0;
        while (offset < bytes.length) {
            const count = Math.min(bytes.length - offset, FRAME_BYTES - this.#frame.filled);
            bytes.copy(this.#frame.buffer, this.#frame.filled, offset, offset + count);
            this.#frame.filled += count;
            offset += count;
            if (this.#frame.filled === FRAME_BYTES)
                await this.#seal();
        }
    }
    /** Appends zero bytes: frames are reused, so padding is written, never assumed. */
    async zeros(count) {
        let left = count;
        while (left > 0) {
            const run = Math.min(left, FRAME_BYTES - this.#frame.filled);
            this.#frame.buffer.fill(0, this.#frame.filled, this.#frame.filled + run);
            this.#frame.filled += run;
            left -= run;
            if (this.#frame.filled === FRAME_BYTES)
                await this.#seal();
        }
    }
    /** Appends `size` bytes of the file at `path`, read into the frames in the background. */
    async file(path, size) {
        let position = 0;
        while (position < size) {
            const frame = this.#frame;
            const length = Math.min(size - position, FRAME_BYTES - frame.filled);
            await this.#reads.acquire();
            const read = readSegment(path, frame.buffer, frame.filled, length, position).finally(() => this.#reads.release());
            // Awaited when the frame is sealed; this only keeps an early failure from going unhandled.
            read.catch(() => undefined);
            frame.reads.push(read);
            frame.filled += length;
            position += length;
            if (frame.filled === FRAME_BYTES)
                await this.#seal();
        }
    }
    /** Seals the last frame and waits until every frame has been emitted, in order. */
    async finish() {
        if (this.#frame.filled > 0)
            this.#queueFrame(this.#frame);
        while (this.#queue.length > 0)
            await this.#emit(await this.#queue.shift());
    }
    /** Waits for reads and compressions under way, so nothing writes into a frame afterwards. */
    async abort() {
        await Promise.allSettled([...this.#frame.reads, ...this.#queue]);
    }
    async #seal() {
        this.#queueFrame(this.#frame);
        this.#frame = this.#newFrame();
        while (this.#queue.length > FRAMES_AHEAD) {
            await this.#emit(await this.#queue.shift());
        }
    }
    #queueFrame(frame) {
        const compressed = (async () => {
            // Settled, not raced: a failed read must not hand back a buffer others still write to.
            const reads = await Promise.allSettled(frame.reads);
            const failed = reads.find((read) => read.status === 'rejected');
            if (failed)
                throw failed.reason;
            const data = frame.buffer.subarray(0, frame.filled);
            const result = await this.#compressions.run(() => compressFrame(data, this.#compression, this.#outputChunk));
            this.#pool.push(frame.buffer);
            return result;
        })();
        compressed.catch(() => undefined);
        this.#queue.push(compressed);
    }
    #newFrame() {
        return { buffer: this.#pool.pop() ?? Buffer.allocUnsafe(FRAME_BYTES), filled: 0, reads: [] };
    }
}
async function readSegment(path, buffer, offset, length, position) {
    const handle = await (0,promises_.open)(path, 'r');
    try {
        let done = 0;
        while (done < length) {
            const { bytesRead } = await handle.read(buffer, offset + done, length - done, position + done);
            if (bytesRead === 0) {
                throw new errors/* ConfigurationError */.j1({
                    subject: `file ${(0,errors/* quoted */.TL)(path)}`,
                    problem: 'changed size while it was packed',
                    hint: 'run the build command before packing',
                });
            }
            done += bytesRead;
        }
    }
    finally {
        await handle.close();
    }
}
/** A counting semaphore. */
class Slots {
    #free;
    #waiting = [];
    constructor(count) {
        this.#free = count;
    }
    async acquire() {
        if (this.#free > 0) {
            this.#free--;
            return;
        }
        await new Promise((resolve) => this.#waiting.push(resolve));
    }
    release() {
        const next = this.#waiting.shift();
        if (next)
            next();
        else
            this.#free++;
    }
    async run(task) {
        await this.acquire();
        try {
            return await task();
        }
        finally {
            this.release();
        }
    }
}

;// CONCATENATED MODULE: ./shared/bundle/tar.ts
const tar_BLOCK = 512;
/** Two zero blocks: the end of a tar archive. */
const tar_END_OF_ARCHIVE = Buffer.alloc(2 * tar_BLOCK);
/** The only modes a bundle carries: no setuid, no group or world write, no owner quirks. */
function entryMode(kind, executable) {
    if (kind === 'directory')
        return 0o755;
    if (kind === 'symlink')
        return 0o777;
    return executable ? 0o755 : 0o644;
}
/** Zero bytes after `size` bytes of content, up to the next 512-byte block. */
function tar_paddingAfter(size) {
    return (tar_BLOCK - (size % tar_BLOCK)) % tar_BLOCK;
}
/** The largest size an 11-digit octal field holds; larger files get a pax `size` record. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;
/** The latest mtime a ustar header holds (11 octal digits): early in the year 2242. */
const tar_MAX_MTIME = 8 ** 11 - 1;
/**
 * The header blocks of one entry, in the POSIX ustar format: uid and gid 0, no user or group
 * names, one mtime, normalised modes, `/` after a directory's name. What ustar cannot hold (a
 * long or non-ASCII name or link target, a file of 8 GiB or more) goes into a pax extended header
 * first, as GNU tar and every POSIX tar read it. The same entry always gives the same bytes.
 */
function tar_encodeHeader(entry, mtime) {
    const out = Buffer.alloc(tar_headerLength(entry));
    tar_writeHeader(entry, mtime, out, 0);
    return out;
}
/** What ustar cannot hold of an entry: its pax records, or none. */
function paxRecords(name, linkname, size) {
    const records = [];
    if (splitName(name) === undefined)
        records.push(paxRecord('path', name));
    if (linkname !== '' && !fitsUstar(linkname, 100))
        records.push(paxRecord('linkpath', linkname));
    if (size > MAX_OCTAL_SIZE)
        records.push(paxRecord('size', String(size)));
    return records;
}
function parts(entry) {
    const name = entry.kind === 'directory' ? `${entry.path}/` : entry.path;
    const linkname = entry.kind === 'symlink' ? (entry.linkTarget ?? '') : '';
    const size = entry.kind === 'file' ? entry.size : 0;
    return { name, linkname, size };
}
/** The bytes encodeHeader gives an entry: 512, or more with a pax header. */
function tar_headerLength(entry) {
    const { name, linkname, size } = parts(entry);
    const records = paxRecords(name, linkname, size);
    if (records.length === 0)
        return tar_BLOCK;
    const pax = Buffer.byteLength(records.join(''), 'utf-8');
    return tar_BLOCK + pax + tar_paddingAfter(pax) + tar_BLOCK;
}
/**
 * Writes an entry's header blocks into `out` at `at`, as encodeHeader makes them, and returns
 * their length: a stream of many entries is written in place, without a buffer per header.
 */
function tar_writeHeader(entry, mtime, out, at) {
    const { name, linkname, size } = parts(entry);
    const mode = entry.mode ?? entryMode(entry.kind, entry.executable);
    const type = entry.kind === 'file' ? '0' : entry.kind === 'symlink' ? '2' : '5';
    return writeEntry({ name, linkname, size, mode, type }, mtime, out, at);
}
/**
 * Writes a hard-link entry into `out` at `at` and returns its length: `path` made a second name
 * of the file already at `target` (a long target in a pax record, as a symlink's), with the
 * file's own mode: a tar that applies modes to hard links must not change the file it links to.
 */
function writeHardLink(link, mtime, out, at) {
    const mode = entryMode('file', link.executable);
    const fields = { name: link.path, linkname: link.target, size: 0, mode, type: '1' };
    return writeEntry(fields, mtime, out, at);
}
/** An entry's header blocks: a pax header first for what ustar cannot hold, then the ustar one. */
function writeEntry(entry, mtime, out, at) {
    const { name, linkname, size } = entry;
    const records = paxRecords(name, linkname, size);
    let offset = at;
    if (records.length > 0) {
        const pax = Buffer.from(records.join(''), 'utf-8');
        const fields = { name: 'PaxHeader', prefix: '', mode: 0o644, size: pax.length, mtime };
        writeUstar({ ...fields, type: 'x', linkname: '' }, out, offset);
        pax.copy(out, offset + tar_BLOCK);
        const padding = tar_paddingAfter(pax.length);
        out.fill(0, offset + tar_BLOCK + pax.length, offset + tar_BLOCK + pax.length + padding);
        offset += tar_BLOCK + pax.length + padding;
    }
    const split = splitName(name);
    writeUstar({
        name: split?.name ?? ustarFallback(name),
        prefix: split?.prefix ?? '',
        mode: entry.mode,
        size: size > MAX_OCTAL_SIZE ? 0 : size,
        mtime,
        type: entry.type,
        linkname: fitsUstar(linkname, 100) ? linkname : '',
    }, out, offset);
    return offset + tar_BLOCK - at;
}
/**
 * Text into a field as latin1 (a character's low byte), cut to the field: what Buffer.write
 * does, without a call into C++ per field. Returns the sum of the bytes written, for the
 * checksum.
 */
function tar_text(block, value, offset, length) {
    const count = Math.min(value.length, length);
    let sum = 0;
    for (let i = 0; i < count; i++) {
        const byte = value.charCodeAt(i) & 0xff;
        block[offset + i] = byte;
        sum += byte;
    }
    return sum;
}
/**
 * Writes one header block. The checksum is the sum of the bytes written (the rest are zeros)
 * with its own field read as spaces: no second pass over the block.
 */
function writeUstar(fields, block, at) {
    block.fill(0, at, at + tar_BLOCK);
    let sum = 8 * 0x20;
    sum += tar_text(block, fields.name, at, 100);
    sum += octal(block, fields.mode, at + 100, 8);
    sum += octal(block, 0, at + 108, 8);
    sum += octal(block, 0, at + 116, 8);
    sum += octal(block, fields.size, at + 124, 12);
    sum += octal(block, fields.mtime, at + 136, 12);
    sum += tar_text(block, fields.type, at + 156, 1);
    sum += tar_text(block, fields.linkname, at + 157, 100);
    sum += tar_text(block, 'ustar\x0000', at + 257, 8);
    sum += octal(block, 0, at + 329, 8);
    sum += octal(block, 0, at + 337, 8);
    sum += tar_text(block, fields.prefix, at + 345, 155);
    // Six octal digits, a NUL and a space.
    octal(block, sum, at + 148, 7);
    block[at + 155] = 0x20;
}
/**
 * An octal number filling a field but its last byte, which stays NUL; returns the sum of the
 * digits' bytes. The number fits: sizes and mtimes too large for the field go elsewhere.
 */
function octal(block, value, offset, length) {
    let sum = 0;
    let rest = value;
    for (let i = offset + length - 2; i >= offset; i--) {
        const digit = 0x30 + (rest % 8);
        block[i] = digit;
        sum += digit;
        rest = Math.floor(rest / 8);
    }
    return sum;
}
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
function fitsUstar(value, length) {
    return PRINTABLE_ASCII.test(value) && value.length <= length;
}
/** Splits a name into ustar's prefix (155 bytes) and name (100 bytes) at a `/`, if it fits. */
function splitName(name) {
    if (!PRINTABLE_ASCII.test(name))
        return undefined;
    if (name.length <= 100)
        return { prefix: '', name };
    // A directory's trailing `/` belongs to the name part; the split is at a `/` before it.
    for (let cut = name.indexOf('/'); cut !== -1; cut = name.indexOf('/', cut + 1)) {
        const prefix = name.slice(0, cut);
        const rest = name.slice(cut + 1);
        if (prefix.length > 155)
            return undefined;
        if (rest.length <= 100 && rest !== '' && rest !== '/')
            return { prefix, name: rest };
    }
    return undefined;
}
/** What a tar that ignores pax headers sees instead of a name only pax can hold. */
function ustarFallback(name) {
    return Buffer.from(name, 'utf-8').subarray(0, 100).toString('latin1');
}
function paxRecord(key, value) {
    const body = ` ${key}=${value}\n`;
    // The length counts its own digits.
    const bodyLength = Buffer.byteLength(body, 'utf-8');
    const digits = String(bodyLength).length;
    let length = bodyLength + digits;
    if (String(length).length > digits)
        length++;
    return `${length}${body}`;
}

;// CONCATENATED MODULE: ./shared/bundle/pack.ts










/**
 * Packs a tree into a reproducible bundle at `destination`: entries sorted by path, parents
 * included, one mtime, uid/gid 0, no user names, modes 0755 (directories, executables), 0644
 * (other files) and 0777 (symlinks). The digest is computed while the bytes are written: one
 * pass, no second read. Memory is bounded: a few frames of the tar are held, never the tree.
 */
async function packBundle(options, destination) {
    if (!Number.isSafeInteger(options.mtime) || options.mtime < 0 || options.mtime > tar_MAX_MTIME) {
        throw new errors/* ConfigurationError */.j1({
            subject: 'the bundle mtime',
            expected: `whole seconds since 1970, at most ${tar_MAX_MTIME}`,
            got: String(options.mtime),
        });
    }
    const entries = 'entries' in options ? options.entries : await resolveEntries(options.root, options.patterns);
    const hash = (0,external_node_crypto_.createHash)('sha256');
    let size = 0;
    const output = (0,external_node_fs_.createWriteStream)(destination, { highWaterMark: 1024 * 1024 });
    const written = (0,external_node_stream_promises_.finished)(output);
    written.catch(() => undefined);
    const frames = new FrameWriter(options.compression, async (compressed) => {
        hash.update(compressed);
        size += compressed.length;
        if (!output.write(compressed))
            await Promise.race([(0,external_node_events_.once)(output, 'drain'), written]);
    });
    try {
        let bytes = 0;
        for (const [index, entry] of entries.entries()) {
            await frames.put(tar_encodeHeader(entry, options.mtime));
            if (entry.kind === 'file') {
                await frames.file((0,external_node_path_.join)(options.root, entry.path), entry.size);
                await frames.zeros(tar_paddingAfter(entry.size));
                bytes += entry.size;
            }
            options.onProgress?.({ entries: index + 1, total: entries.length, bytes });
        }
        await frames.put(tar_END_OF_ARCHIVE);
        await frames.finish();
        output.end();
        await written;
    }
    catch (error) {
        await frames.abort();
        output.destroy();
        await written.catch(() => undefined);
        await (0,promises_.rm)(destination, { force: true });
        throw error;
    }
    const count = (kind) => entries.filter((e) => e.kind === kind).length;
    return {
        digest: `sha256:${hash.digest('hex')}`,
        size,
        files: count('file'),
        directories: count('directory'),
        symlinks: count('symlink'),
        topLevel: [...new Set(entries.map((entry) => entry.path.split('/')[0]))].sort(),
    };
}

;// CONCATENATED MODULE: ./shared/bundle/tar-reader.ts




/** An extended header (pax or GNU long name) larger than this is refused: none needs more. */
const MAX_EXTENDED_BYTES = (/* unused pure expression or super */ null && (1024 * 1024));
const ZERO_BLOCK = Buffer.alloc(tar_BLOCK);
const tar_reader_utf8 = new TextDecoder('utf-8', { fatal: true });
function invalid(problem, got) {
    return new errors/* ConfigurationError */.j1({
        subject: 'the bundle',
        problem: `is not a valid tar: ${problem}`,
        got,
    });
}
/**
 * Reads `source` (a plain tar) entry by entry; the rest after the end-of-archive blocks is read
 * and dropped. `layout` is kept up to date as the archive is read.
 */
async function* tar_reader_readTar(source, layout = { zeroPadding: true, end: undefined }) {
    const bytes = new ByteQueue(source[Symbol.asyncIterator](), (where) => invalid(`the archive ends ${where}`));
    try {
        let extended = {};
        let raw = [];
        for (;;) {
            const block = await bytes.read(BLOCK);
            // An archive cut short at an entry's end would read as a smaller one: its end must be there.
            if (block === undefined)
                throw invalid('the archive ends without its end-of-archive blocks');
            if (block.equals(ZERO_BLOCK)) {
                if (Object.keys(extended).length > 0)
                    throw invalid('an extended header has no entry after it');
                layout.end = bytes.consumed - BLOCK;
                await bytes.drain();
                return;
            }
            raw.push(block);
            const fields = readBlock(block);
            if ('LKx'.includes(fields.type)) {
                const { data, values } = await readExtended(bytes, fields);
                raw.push(data);
                extended = { ...extended, ...values };
                continue;
            }
            const header = applyExtended(fields, extended);
            extended = {};
            const content = new Content(bytes, header.size, layout);
            yield { header, raw, content };
            raw = [];
            await content.skip();
        }
    }
    finally {
        await bytes.close();
    }
}
function readBlock(block) {
    const checksum = readNumber(block, 148, 8, 'checksum');
    if (checksum !== unsignedSum(block) && checksum !== signedSum(block)) {
        throw invalid('a header checksum does not match');
    }
    const magic = block.toString('latin1', 257, 265);
    const posix = magic === 'ustar\u000000';
    if (!posix && magic !== 'ustar  \u0000') {
        throw invalid('a header has no ustar magic', quoted(magic));
    }
    const prefix = posix ? tar_reader_text(block, 345, 155, 'name') : '';
    const base = tar_reader_text(block, 0, 100, 'name');
    const typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156]);
    const name = prefix === '' ? base : `${prefix}/${base}`;
    for (const [offset, length, what] of [
        [108, 8, 'uid'],
        [116, 8, 'gid'],
        [329, 8, 'devmajor'],
        [337, 8, 'devminor'],
    ]) {
        readNumber(block, offset, length, what, true);
    }
    const size = readNumber(block, 124, 12, 'size');
    return {
        name,
        // Old tars mark a directory only by the `/` after its name.
        type: typeflag === '0' && name.endsWith('/') ? '5' : typeflag,
        mode: readNumber(block, 100, 8, 'mode'),
        size,
        blockSize: size,
        mtime: checkedMtime(readNumber(block, 136, 12, 'mtime'), name),
        linkname: tar_reader_text(block, 157, 100, 'link target'),
    };
}
/**
 * A numeric field: octal digits after optional spaces, ended by NUL or spaces to the field's end;
 * or GNU's base-256, marked by the high bit of the first byte. `optional` fields may be blank.
 */
function readNumber(block, offset, length, what, optional = false) {
    const field = block.subarray(offset, offset + length);
    if ((field[0] & 0x80) !== 0) {
        if ((field[0] & 0x40) !== 0)
            throw invalid(`the ${what} field is negative`);
        let value = field[0] & 0x3f;
        for (const byte of field.subarray(1))
            value = value * 256 + byte;
        if (!Number.isSafeInteger(value))
            throw invalid(`the ${what} field is too large`);
        return value;
    }
    const raw = field.toString('latin1');
    const match = /^ *([0-7]*)[ \0]*$/.exec(raw);
    if (match === null || (match[1] === '' && !optional)) {
        throw invalid(`the ${what} field is not an octal number`, quoted(raw));
    }
    return match[1] === '' ? 0 : parseInt(match[1], 8);
}
/** The largest mtime is what a ustar header's 11 octal digits hold again when the tar is rebuilt. */
function checkedMtime(mtime, name) {
    if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > MAX_MTIME) {
        throw new ConfigurationError({
            subject: `entry ${quoted(name)}`,
            problem: 'has an mtime out of range',
            expected: `whole seconds from 0 to ${MAX_MTIME}`,
            got: String(mtime),
        });
    }
    return mtime;
}
function unsignedSum(block) {
    let sum = 8 * 0x20;
    for (let i = 0; i < BLOCK; i++)
        if (i < 148 || i >= 156)
            sum += block[i];
    return sum;
}
function signedSum(block) {
    let sum = 8 * 0x20;
    for (let i = 0; i < BLOCK; i++)
        if (i < 148 || i >= 156)
            sum += (block[i] << 24) >> 24;
    return sum;
}
/** A NUL-terminated name field, which must be UTF-8. */
function tar_reader_text(block, offset, length, what) {
    const field = block.subarray(offset, offset + length);
    const end = field.indexOf(0);
    return decodeName(end === -1 ? field : field.subarray(0, end), what);
}
function decodeName(bytes, what) {
    try {
        return tar_reader_utf8.decode(bytes);
    }
    catch {
        throw new ConfigurationError({
            subject: `entry ${quotedBytes(bytes)}`,
            problem: `has a ${what} that is not valid UTF-8`,
        });
    }
}
/** An extended header's data blocks, and what they say. */
async function readExtended(bytes, fields) {
    if (fields.blockSize > MAX_EXTENDED_BYTES) {
        throw invalid(`an extended header of ${fields.blockSize} bytes is larger than ${MAX_EXTENDED_BYTES}`);
    }
    const data = await bytes.read(fields.blockSize + paddingOf(fields.blockSize));
    if (data === undefined)
        throw invalid('the archive ends inside an extended header');
    const body = data.subarray(0, fields.blockSize);
    if (fields.type === 'x')
        return { data, values: tar_reader_paxRecords(body) };
    const end = body.indexOf(0);
    const value = decodeName(end === -1 ? body : body.subarray(0, end), 'name');
    return { data, values: fields.type === 'L' ? { name: value } : { linkname: value } };
}
/** `<length> <key>=<value>\n` records; the ones this reader does not apply are checked for form only. */
function tar_reader_paxRecords(body) {
    const extended = {};
    let offset = 0;
    while (offset < body.length) {
        const space = body.indexOf(0x20, offset);
        const lengthText = body.toString('latin1', offset, space === -1 ? offset : space);
        const length = /^[1-9][0-9]{0,7}$/.test(lengthText) ? Number(lengthText) : 0;
        if (space === -1 ||
            length === 0 ||
            offset + length > body.length ||
            body[offset + length - 1] !== 0x0a) {
            throw invalid('a pax record is malformed');
        }
        const record = decodeName(body.subarray(space + 1, offset + length - 1), 'pax record');
        offset += length;
        const equals = record.indexOf('=');
        if (equals < 1)
            throw invalid('a pax record has no key', quoted(record));
        applyPax(extended, record.slice(0, equals), record.slice(equals + 1));
    }
    return extended;
}
function applyPax(extended, key, value) {
    if (key.startsWith('GNU.sparse.'))
        throw invalid('sparse files are not supported');
    switch (key) {
        case 'path':
            extended.name = value;
            return;
        case 'linkpath':
            extended.linkname = value;
            return;
        case 'size':
            extended.size = paxNumber(key, value, /^[0-9]+$/);
            return;
        case 'mtime':
            extended.mtime = Math.floor(paxNumber(key, value, /^-?[0-9]+(\.[0-9]+)?$/));
            return;
        case 'uid':
        case 'gid':
            paxNumber(key, value, /^[0-9]+$/);
            return;
        case 'atime':
        case 'ctime':
            paxNumber(key, value, /^-?[0-9]+(\.[0-9]+)?$/);
            return;
        case 'hdrcharset':
            if (value !== 'ISO-IR 10646 2000 UTF-8')
                throw invalid('pax names are not UTF-8', quoted(value));
    }
}
function paxNumber(key, value, form) {
    const number = Number(value);
    if (!form.test(value) || !Number.isFinite(number) || Math.abs(number) > Number.MAX_SAFE_INTEGER) {
        throw invalid(`the pax ${key} record is not a number`, quoted(value));
    }
    return number;
}
function applyExtended(fields, extended) {
    const name = extended.name ?? fields.name;
    return {
        name,
        type: fields.type === '0' && name.endsWith('/') ? '5' : fields.type,
        mode: fields.mode,
        size: extended.size ?? fields.size,
        mtime: extended.mtime === undefined ? fields.mtime : checkedMtime(extended.mtime, name),
        linkname: extended.linkname ?? fields.linkname,
    };
}
function paddingOf(size) {
    return (tar_BLOCK - (size % tar_BLOCK)) % tar_BLOCK;
}
/** An entry's content: `size` bytes, then padding to the next block. */
class Content {
    bytes;
    layout;
    #left;
    #padding;
    constructor(bytes, size, layout) {
        this.bytes = bytes;
        this.layout = layout;
        this.#left = size;
        this.#padding = paddingOf(size);
    }
    async *[Symbol.asyncIterator]() {
        while (this.#left > 0) {
            const chunk = await this.bytes.next(this.#left);
            this.#left -= chunk.length;
            yield chunk;
        }
    }
    /** Reads what the consumer left, so the next header is where the archive says. */
    async skip() {
        while (this.#left > 0)
            this.#left -= (await this.bytes.next(this.#left)).length;
        if (this.#padding === 0)
            return;
        const padding = await this.bytes.read(this.#padding);
        if (padding === undefined)
            throw invalid('the archive ends inside an entry');
        if (this.layout.zeroPadding && !padding.equals(ZERO_BLOCK.subarray(0, this.#padding))) {
            this.layout.zeroPadding = false;
        }
    }
}

;// CONCATENATED MODULE: ./shared/bundle/check.ts









/**
 * How much larger than itself a bundle may expand, by default: zstd and gzip make source, text
 * and JSON 3 to 20 times smaller, rarely more; a bundle that expands a hundredfold is a zip bomb
 * far more often than an app. Small bundles may always expand to the floor.
 */
const DEFAULT_EXPANSION_RATIO = 100;
/** What any bundle may expand to, however small: 1 GiB. */
const DEFAULT_EXPANSION_FLOOR = (/* unused pure expression or super */ null && (1024 ** 3));
/** The default cap on the tar inside a bundle of `bundleBytes`: a hundred times it, at least 1 GiB. */
function defaultMaxExpandedBytes(bundleBytes) {
    return Math.max(DEFAULT_EXPANSION_FLOOR, DEFAULT_EXPANSION_RATIO * bundleBytes);
}
/**
 * Reads a bundle and yields its entries one by one, each checked before it is yielded: every
 * header field valid; only files, directories and symlinks; names and paths a host can create;
 * no absolute path, no `..`; no symlink resolving outside the bundle; nothing written twice or
 * through a symlink; the whole no larger than the cap. A refusal is a ConfigurationError thrown
 * from the iteration; what the whole bundle must satisfy (not empty, no symlink escaping through
 * other symlinks) is checked after the last entry.
 */
async function* checkedEntries(source, options = {}) {
    const { input, cap } = await opened(source, options);
    const hash = createHash('sha256');
    const forwarding = options.onForwardable ? new Forwarding() : undefined;
    const onFrame = forwarding && ((frame) => forwarding.frames.push(frame));
    const tar = capped(decompress(hashed(input, hash), options.compression, onFrame), cap);
    const rules = new BundleRules();
    let contents = 0;
    for await (const { header, raw, content } of readTar(tar, forwarding?.layout)) {
        const entry = admit(rules, header);
        forwarding?.see(raw, entry);
        if (entry === undefined)
            continue;
        if (entry.kind !== 'directory')
            contents++;
        yield { ...entry, content };
    }
    rules.finish();
    refuseEmpty(contents);
    options.onDigest?.(`sha256:${hash.digest('hex')}`);
    options.onForwardable?.(forwarding?.result());
}
/** Whether a bundle's tar is still what the runner would write, as its entries are read. */
class Forwarding {
    frames = [];
    layout = { zeroPadding: true, end: undefined };
    #canonical = true;
    #scratch = Buffer.alloc(0);
    /** An entry's header blocks as read, and what passed of it (nothing: a skipped `./`). */
    see(raw, entry) {
        if (!this.#canonical)
            return;
        this.#canonical = entry !== undefined && this.#isCanonical(raw, entry);
    }
    #isCanonical(raw, entry) {
        const length = headerLength(entry);
        let rawLength = 0;
        for (const block of raw)
            rawLength += block.length;
        if (rawLength !== length)
            return false;
        if (this.#scratch.length < length)
            this.#scratch = Buffer.alloc(length);
        writeHeader(entry, entry.mtime, this.#scratch, 0);
        let at = 0;
        for (const block of raw) {
            if (this.#scratch.compare(block, 0, block.length, at, at + block.length) !== 0)
                return false;
            at += block.length;
        }
        return true;
    }
    result() {
        const { end, zeroPadding } = this.layout;
        const zstd = this.frames.some((frame) => frame.decompressed > 0);
        if (!this.#canonical || !zeroPadding || end === undefined || !zstd)
            return undefined;
        return { frames: this.frames, end };
    }
}
async function opened(source, options) {
    if (typeof source !== 'string') {
        return { input: source, cap: options.maxExpandedBytes ?? DEFAULT_EXPANSION_FLOOR };
    }
    const cap = options.maxExpandedBytes ?? defaultMaxExpandedBytes((await stat(source)).size);
    return { input: createReadStream(source, { highWaterMark: 1 << 20 }), cap };
}
async function* hashed(input, hash) {
    for await (const chunk of input) {
        hash.update(chunk);
        yield chunk;
    }
}
async function* capped(tar, cap) {
    let total = 0;
    for await (const chunk of tar) {
        total += chunk.length;
        if (total > cap) {
            throw new ConfigurationError({
                subject: 'the bundle',
                problem: `expands to more than ${cap} bytes, the most allowed for it`,
                hint: 'a bundle this much larger unpacked than packed would fill a host’s disk',
            });
        }
        yield chunk;
    }
}
function admit(rules, header) {
    const kind = entryKind(header);
    const subject = () => entrySubject(header.name);
    const path = normalisePath(header.name, subject);
    if (path === '') {
        if (kind === 'directory')
            return undefined;
        throw new ConfigurationError({ subject: subject(), problem: 'has no name' });
    }
    if (kind !== 'file' && header.size > 0) {
        throw new ConfigurationError({ subject: subject(), problem: `is a ${kind} with content` });
    }
    const linkTarget = kind === 'symlink' ? header.linkname : undefined;
    rules.admit(path, kind, linkTarget);
    const executable = kind === 'file' && (header.mode & 0o111) !== 0;
    const size = kind === 'file' ? header.size : 0;
    return { path, kind, size, executable, mtime: header.mtime, linkTarget };
}
const REFUSED_TYPES = {
    '1': 'a hardlink',
    '3': 'a character device',
    '4': 'a block device',
    '6': 'a fifo',
};
function entryKind(header) {
    if (header.type === '0')
        return 'file';
    if (header.type === '2')
        return 'symlink';
    if (header.type === '5')
        return 'directory';
    const subject = entrySubject(header.name);
    const refused = REFUSED_TYPES[header.type];
    if (refused !== undefined) {
        throw new ConfigurationError({
            subject,
            problem: `is ${refused}`,
            hint: 'a bundle holds only files, directories and symlinks',
        });
    }
    throw new ConfigurationError({
        subject,
        problem: 'has a type a bundle cannot hold',
        got: `typeflag ${quoted(header.type)}`,
    });
}
/**
 * A plain tar, rebuilt from the checked entries of a bundle, for a host that has tar but no
 * zstd. Only what passed the checks is written, with normalised headers, so quirks of the
 * original archive never reach the host's tar. On a refusal the stream fails before the tar's
 * end: the consumer must treat the extraction as failed and remove it.
 */
function checkedTar(source, options = {}) {
    return Readable.from(repack(source, options));
}
async function* repack(source, options) {
    for await (const entry of checkedEntries(source, options)) {
        yield encodeHeader(entry, entry.mtime);
        if (entry.kind !== 'file')
            continue;
        yield* entry.content;
        const padding = paddingAfter(entry.size);
        if (padding > 0)
            yield END_OF_ARCHIVE.subarray(0, padding);
    }
    yield END_OF_ARCHIVE;
}

;// CONCATENATED MODULE: ./shared/bundle.ts





/** `sha256:<hex>` of a bundle file, as packBundle reports it. */
async function bundle_bundleDigest(path) {
    const hash = (0,external_node_crypto_.createHash)('sha256');
    for await (const chunk of (0,external_node_fs_.createReadStream)(path, { highWaterMark: 1 << 20 })) {
        hash.update(chunk);
    }
    return `sha256:${hash.digest('hex')}`;
}

// EXTERNAL MODULE: ./node_modules/canonicalize/lib/canonicalize.js
var canonicalize = __webpack_require__(23842);
// EXTERNAL MODULE: ./node_modules/zod/v4/classic/schemas.js + 11 modules
var schemas = __webpack_require__(92857);
// EXTERNAL MODULE: ./node_modules/zod/v4/classic/iso.js
var iso = __webpack_require__(64377);
// EXTERNAL MODULE: ./shared/names.ts
var names = __webpack_require__(78002);
;// CONCATENATED MODULE: ./shared/manifest.ts





/** The release assets that hold the manifest and its SSH signature, beside the bundle. */
const MANIFEST_ASSET = 'release.json';
const SIGNATURE_ASSET = 'release.json.sig';
/** The manifest format this code writes and the newest it reads. */
const SCHEMA_VERSION = 1;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const FINGERPRINT = /^hmac-sha256:[0-9a-f]{64}$/;
const AGE_ARMOR = '-----BEGIN AGE ENCRYPTED FILE-----';
/** The package is CommonJS (`module.exports = serialize`), but its types declare an ES default. */
const manifest_canonicalize = (/* unused pure expression or super */ null && (canonicalizeModule));
const digest = schemas/* string */.YjP().regex(DIGEST, 'expected sha256: and 64 lower-case hex digits');
const commitSha = schemas/* string */.YjP().regex(names/* COMMIT_SHA */.pk, 'expected a full commit SHA in lower-case hex');
const count = schemas/* number */.aig().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const githubId = schemas/* number */.aig().int().positive().max(Number.MAX_SAFE_INTEGER);
const time = iso/* datetime */.w$({ message: 'expected an ISO 8601 UTC time like 2025-01-31T12:00:00Z' });
const compression = schemas/* enum */.k5n(['zstd', 'gzip']);
const manifest_artifact = schemas/* strictObject */.rej({ id: githubId, name: schemas/* string */.YjP().min(1).max(256) });
const envName = schemas/* string */.YjP().regex(names/* ENV_NAME */.G1, 'expected an environment variable name');
/** What the build stage learned about a bundle; it travels beside the bundle, never inside. */
const BuildFacts = schemas/* strictObject */.rej({
    app: names/* appName */.JB,
    sha: commitSha,
    ref: schemas/* string */.YjP().min(1),
    runId: githubId,
    runAttempt: githubId,
    digest,
    size: count,
    files: count,
    compression,
    created: time,
    artifact: manifest_artifact,
});
const Secrets = schemas/* strictObject */.rej({
    names: schemas/* array */.YOg(envName),
    fingerprints: schemas/* record */.g1P(envName, schemas/* string */.YjP().regex(FINGERPRINT, 'expected hmac-sha256:<hex>')),
    ciphertext: schemas/* string */.YjP()
        .refine((text) => text.startsWith(AGE_ARMOR), `expected an armored age file (${AGE_ARMOR})`),
})
    .superRefine((secrets, ctx) => {
    const sorted = [...new Set(secrets.names)].sort();
    if (sorted.join('\n') !== secrets.names.join('\n')) {
        ctx.addIssue({ code: 'custom', path: ['names'], message: 'expected sorted, unique names' });
    }
    if (Object.keys(secrets.fingerprints).sort().join('\n') !== sorted.join('\n')) {
        ctx.addIssue({
            code: 'custom',
            path: ['fingerprints'],
            message: 'expected one fingerprint for each secret name',
        });
    }
});
/**
 * release.json: one release, immutable. Strict everywhere: a field this code does not know is
 * refused, since a reader that skipped it could deploy something the writer did not mean.
 */
const Manifest = schemas/* strictObject */.rej({
    schemaVersion: schemas/* literal */.euz(SCHEMA_VERSION),
    app: names/* appName */.JB,
    environment: names/* environmentName */.VE,
    id: names/* releaseId */.Bf,
    created: time,
    actor: schemas/* string */.YjP().min(1).max(100),
    run: schemas/* strictObject */.rej({
        id: githubId,
        attempt: githubId,
        url: schemas/* url */.OZ5({ protocol: /^https?$/, message: 'expected an http(s) URL' }),
    }),
    build: schemas/* strictObject */.rej({ sha: commitSha, digest, size: count, compression, artifact: manifest_artifact }),
    config: schemas/* strictObject */.rej({
        vars: schemas/* record */.g1P(envName, schemas/* string */.YjP()),
        secrets: Secrets.nullable(),
    }),
    previous: schemas/* strictObject */.rej({ id: names/* releaseId */.Bf, digest }).nullable(),
    changes: schemas/* string */.YjP().max(1000),
})
    .superRefine((manifest, ctx) => {
    for (const name of manifest.config.secrets?.names ?? []) {
        if (Object.hasOwn(manifest.config.vars, name)) {
            ctx.addIssue({
                code: 'custom',
                path: ['config', 'vars', name],
                message: 'is also a secret name',
            });
        }
    }
    if (manifest.previous?.id === manifest.id) {
        ctx.addIssue({ code: 'custom', path: ['previous', 'id'], message: 'points to itself' });
    }
});
/** RFC 8785 (JCS) canonical JSON: the same value always gives the same bytes. */
function canonicalJson(value) {
    const text = manifest_canonicalize(value);
    if (text === undefined)
        throw new Error('canonicalJson: the value has no JSON form');
    return text;
}
/** The exact bytes of release.json: canonical JSON in UTF-8, no trailing newline. */
function serializeManifest(manifest) {
    const checked = Manifest.safeParse(manifest);
    if (!checked.success) {
        const problem = new ConfigurationError(describeIssue('the manifest', checked.error));
        throw new Error(`serializeManifest: ${problem.message}`);
    }
    return new TextEncoder().encode(canonicalJson(checked.data));
}
function digestOf(bytes) {
    return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
/**
 * Reads release.json bytes. `what` names the file in errors (a tag or a host path), since a
 * deploy reads several manifests and the user has to know which one is wrong.
 */
function parseManifest(bytes, what = 'release.json') {
    let value;
    try {
        value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    }
    catch (error) {
        throw new ConfigurationError({
            subject: what,
            problem: 'is not valid JSON',
            got: error.message,
        });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ConfigurationError({ subject: what, expected: 'a JSON object' });
    }
    const version = value.schemaVersion;
    if (typeof version === 'number' && Number.isInteger(version) && version > SCHEMA_VERSION) {
        throw new ConfigurationError({
            subject: what,
            problem: `has schema version ${version}, newer than this action understands (${SCHEMA_VERSION})`,
            hint: 'update build-release-run',
        });
    }
    const result = Manifest.safeParse(value);
    if (!result.success)
        throw new ConfigurationError(describeIssue(what, result.error));
    return result.data;
}
/** Reads the build facts that travel beside a bundle. */
function manifest_parseBuildFacts(value, what = 'build facts') {
    const result = BuildFacts.safeParse(value);
    if (!result.success)
        throw new errors/* ConfigurationError */.j1(describeIssue(what, result.error));
    return result.data;
}
/** The first issue: field paths (which hold untrusted keys) go with the subject, escaped. */
function describeIssue(what, error) {
    const issue = error.issues[0];
    if (!issue)
        return { subject: what, problem: 'is invalid' };
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
        const fields = issue.keys.map((key) => (path ? `${path}.${key}` : key));
        return { subject: what, problem: 'has an unknown field', got: fields.join(', ') };
    }
    const subject = path ? `${what} field ${path}` : what;
    if (issue.code === 'invalid_type' && issue.input === undefined) {
        return { subject, problem: 'is missing' };
    }
    // A name's own check says what it expected and what it got, apart.
    if (issue.code === 'custom' && issue.params !== undefined) {
        return { ...issue.params, subject };
    }
    return { subject, problem: issue.message };
}
/** The `previous` link of a new release: the ID and digest of the release before it. */
function chainTo(previous) {
    if (!previous)
        return null;
    return { id: previous.manifest.id, digest: digestOf(previous.bytes) };
}
/**
 * Checks a release's `previous` link against the release before it, as published: the same
 * ledger, the same ID, and the digest of exactly those bytes. A release changed after its
 * successor was made breaks the link.
 */
function checkPreviousLink(entry, before) {
    const { app, environment, id } = entry.manifest;
    const subject = `release ${app}/${environment}/${id}`;
    const prior = before.manifest;
    if (app !== prior.app || environment !== prior.environment) {
        throw new ConfigurationError({
            subject,
            problem: `follows ${prior.app}/${prior.environment}/${prior.id}, a release of another ledger`,
        });
    }
    const link = entry.manifest.previous;
    const expected = chainTo(before);
    if (link === null) {
        throw new ConfigurationError({
            subject,
            problem: `names no previous release, but ${prior.id} comes before it; the ledger is broken`,
        });
    }
    if (link.id !== expected?.id) {
        throw new ConfigurationError({
            subject,
            problem: `names ${link.id} as its previous release, but ${prior.id} comes before it; the ledger is broken`,
        });
    }
    if (link.digest !== expected.digest) {
        throw new ConfigurationError({
            subject,
            problem: `records ${link.id} as ${link.digest}, but ${link.id}'s ${MANIFEST_ASSET} is ${expected.digest}`,
            hint: `${link.id} was changed after ${id} was made`,
        });
    }
}
/**
 * Which config keys differ between two releases, by name only. Secrets are compared by
 * fingerprint, so no value is needed or shown; a key that moves between vars and secrets counts
 * as changed.
 */
function configDiff(previous, next) {
    const before = configIdentity(previous);
    const after = configIdentity(next);
    const added = [];
    const changed = [];
    const removed = [];
    for (const [name, value] of after) {
        const old = before.get(name);
        if (old === undefined)
            added.push(name);
        else if (old !== value)
            changed.push(name);
    }
    for (const name of before.keys())
        if (!after.has(name))
            removed.push(name);
    return { added: added.sort(), changed: changed.sort(), removed: removed.sort() };
}
function configIdentity(manifest) {
    const identity = new Map();
    if (!manifest)
        return identity;
    for (const [name, value] of Object.entries(manifest.config.vars)) {
        identity.set(name, `var:${value}`);
    }
    for (const [name, fingerprint] of Object.entries(manifest.config.secrets?.fingerprints ?? {})) {
        identity.set(name, `secret:${fingerprint}`);
    }
    return identity;
}
const NAMES_SHOWN = 5;
function nameList(names) {
    if (names.length <= NAMES_SHOWN)
        return names.join(', ');
    return `${names.slice(0, NAMES_SHOWN).join(', ')} and ${names.length - NAMES_SHOWN} more`;
}
/**
 * The one-line change summary in Heroku's style: "Deploy 1a2b3c4", "Config add DB_URL, change
 * PORT", "Deploy 1a2b3c4, config remove X", "Initial release of 1a2b3c4", "Rerelease 1a2b3c4".
 */
function changeSummary(previous, next) {
    const short = next.build.sha.slice(0, 7);
    if (!previous)
        return `Initial release of ${short}`;
    const diff = configDiff(previous, next);
    const parts = [
        diff.added.length ? `add ${nameList(diff.added)}` : '',
        diff.changed.length ? `change ${nameList(diff.changed)}` : '',
        diff.removed.length ? `remove ${nameList(diff.removed)}` : '',
    ].filter((part) => part !== '');
    const config = parts.join(', ');
    const deploy = previous.build.sha !== next.build.sha || previous.build.digest !== next.build.digest;
    if (deploy && config)
        return `Deploy ${short}, config ${config}`;
    if (deploy)
        return `Deploy ${short}`;
    if (config)
        return `Config ${config}`;
    return `Rerelease ${short}`;
}

;// CONCATENATED MODULE: ./shared/builds.ts





/**
 * Where a build lives: two artifacts named by app and full SHA (the bundle, uploaded as is,
 * and its build facts beside it), and one cache entry holding both.
 */
function bundleFileName(app, sha, compression) {
    return `${app}-${sha}.tar.${compression === 'zstd' ? 'zst' : 'gz'}`;
}
function factsFileName(app, sha) {
    return `${app}-${sha}.build.json`;
}
function buildId(app, sha) {
    return `${app}@${sha}`;
}
function cacheKey(app, sha) {
    return `build-release-run-${app}-${sha}`;
}
/** GitHub takes release assets under 2 GiB: a bigger bundle cannot be released at all. */
const MAX_ASSET_BYTES = (/* unused pure expression or super */ null && (2 * 1024 ** 3));
/**
 * Where build-action keeps a bundle and its facts, and where the cache entry restores them:
 * @actions/cache keys an entry by the literal paths saved, so a restore must name the same ones.
 */
function buildDirectory(home, app, sha) {
    return external_node_path_default().join(home, '.cache', 'build-release-run', `${app}-${sha}`);
}
/** The paths one cache entry holds: the bundle and its facts. */
function cachePaths(directory, app, sha, compression) {
    return [
        external_node_path_default().join(directory, bundleFileName(app, sha, compression)),
        external_node_path_default().join(directory, factsFileName(app, sha)),
    ];
}
/** Refuses a bundle GitHub could not take, before anything is downloaded, tagged or drafted. */
function checkAssetSize(size, what) {
    if (size < MAX_ASSET_BYTES)
        return;
    throw new ConfigurationError({
        subject: what,
        problem: `the bundle is ${size} bytes; GitHub release assets must be under 2 GiB (${MAX_ASSET_BYTES} bytes)`,
        hint: "leave out what the app does not need at run time (build-action's path), or use zstd",
    });
}
async function onlyFile(directory) {
    const names = await readdir(directory);
    if (names.length !== 1)
        throw new Error(`expected one downloaded file in ${directory}, found ${names.length}`);
    return path.join(directory, names[0]);
}
async function readFacts(file, options, where) {
    const facts = parseBuildFacts(JSON.parse(await readFile(file, 'utf8')), `the build facts of ${options.sha} from ${where}`);
    if (facts.app !== options.app || facts.sha !== options.sha) {
        throw new ConfigurationError({
            subject: `the build facts from ${where}`,
            expected: `${options.app} at ${options.sha}`,
            got: `${facts.app} at ${facts.sha}`,
        });
    }
    checkAssetSize(facts.size, `the build of ${options.sha} from ${where}`);
    return facts;
}
function record(facts) {
    const { sha, digest, size, compression, artifact } = facts;
    return { sha, digest, size, compression, artifact };
}
async function verified(found, log) {
    const digest = await bundleDigest(found.bundlePath);
    if (digest !== found.build.digest) {
        throw new ConfigurationError({
            subject: `the build of ${found.build.sha} from ${found.source}`,
            problem: 'does not match its recorded digest',
            expected: found.build.digest,
            got: digest,
            hint: 'rebuild it',
        });
    }
    log.info(`Found the build of ${found.build.sha} in ${found.source}: ${digest}`);
    return found;
}
/** Facts, then the bundle they name, from one run's artifacts (another run's through REST). */
async function fromArtifacts(options, run) {
    const { runId, source } = run;
    const find = runId === undefined
        ? {}
        : {
            findBy: {
                token: options.token,
                workflowRunId: runId,
                repositoryOwner: options.repository.owner,
                repositoryName: options.repository.repo,
            },
        };
    const factsDir = await mkdtemp(path.join(options.directory, 'facts-'));
    await options.artifacts.downloadArtifact(run.facts.id, { path: factsDir, ...find });
    const facts = await readFacts(await onlyFile(factsDir), options, source);
    const bundle = run.all.find((artifact) => artifact.name === facts.artifact.name);
    if (!bundle)
        return undefined;
    const bundleDir = await mkdtemp(path.join(options.directory, 'bundle-'));
    await options.artifacts.downloadArtifact(bundle.id, { path: bundleDir, ...find });
    return verified({ build: record(facts), bundlePath: await onlyFile(bundleDir), source }, options.log);
}
/**
 * Builds of earlier runs and earlier attempts of this run (the results service shows an attempt
 * only its own artifacts), through the REST API: only runs of this repository at exactly this
 * commit. A fork's pull request runs here too and may upload an artifact under any name.
 */
async function fromEarlierRuns(options) {
    const listed = await options.github.paginate(options.github.rest.actions.listArtifactsForRepo, {
        ...options.repository,
        name: factsFileName(options.app, options.sha),
        per_page: 100,
    });
    const earlier = listed
        .filter((artifact) => !artifact.expired && artifact.workflow_run?.id !== undefined)
        .sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''));
    for (const factsArtifact of earlier) {
        const run = factsArtifact.workflow_run;
        const runId = run?.id;
        if (options.repositoryId === undefined ||
            run?.head_repository_id !== options.repositoryId ||
            run.head_sha !== options.sha) {
            options.log.info(`Passed over ${factsArtifact.name} of run ${runId}: that run is not of this repository at ${options.sha}`);
            continue;
        }
        const runArtifacts = await options.github.paginate(options.github.rest.actions.listWorkflowRunArtifacts, { ...options.repository, run_id: runId, per_page: 100 });
        const found = await fromArtifacts(options, {
            facts: factsArtifact,
            all: runArtifacts.filter((artifact) => !artifact.expired),
            source: `run ${runId}`,
            runId,
        });
        if (found)
            return found;
    }
    return undefined;
}
async function fromCache(options) {
    const dir = await options.restoreFromCache?.();
    if (dir === undefined)
        return undefined;
    const facts = await readFacts(path.join(dir, factsFileName(options.app, options.sha)), options, 'the cache');
    const bundlePath = path.join(dir, bundleFileName(options.app, options.sha, facts.compression));
    return verified({ build: record(facts), bundlePath, source: 'cache' }, options.log);
}
/**
 * Finds the build of a commit: in this run's artifacts, in earlier runs' and attempts' (this
 * repository's, at this commit), in the cache, then as the bundle of an earlier release of the
 * commit. Its size and digest are checked before anything is released.
 */
async function findBuild(options) {
    const factsName = factsFileName(options.app, options.sha);
    const inRun = (await options.artifacts.listArtifacts({ latest: true })).artifacts;
    const factsHere = inRun.find((artifact) => artifact.name === factsName);
    const found = (factsHere &&
        (await fromArtifacts(options, { facts: factsHere, all: inRun, source: 'this run' }))) ||
        (await fromEarlierRuns(options)) ||
        (await fromCache(options)) ||
        (await options.fromRelease?.());
    if (found)
        return found;
    const cache = options.restoreFromCache ? 'the cache' : 'the cache (not available to this job)';
    const releases = options.fromRelease ? ', earlier releases of the environment' : '';
    throw new ConfigurationError({
        input: 'sha',
        problem: `no build of ${options.app} at ${options.sha} in this run's artifacts, earlier runs' artifacts of this repository, ${cache}${releases}`,
        hint: 'run build-action for this commit first',
    });
}

// EXTERNAL MODULE: ./shared/markdown.ts
var markdown = __webpack_require__(32433);
;// CONCATENATED MODULE: ./shared/shell.ts

/**
 * Runs a workflow-provided command the way a `run:` step does (bash, -e, pipefail), streaming
 * its output to the log as it comes and keeping the tail for the error message.
 */
function execBash(command, options) {
    const keep = options.tailLines ?? 10;
    return new Promise((resolve, reject) => {
        const child = (0,external_node_child_process_.spawn)('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', command], {
            cwd: options.cwd,
            env: options.env,
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let recent = '';
        const collect = (chunk) => {
            const text = chunk.toString();
            options.write(text);
            recent = (recent + text).slice(-16384);
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        child.on('error', reject);
        child.on('close', (code, signal) => {
            const tail = recent
                .split('\n')
                .map((line) => line.trimEnd())
                .filter((line) => line !== '')
                .slice(-keep);
            resolve({ code: code ?? (signal ? 128 : 1), tail });
        });
    });
}

;// CONCATENATED MODULE: ./shared/stages/build.ts















/**
 * The build stage: check the inputs, restore the bundle of this commit from the cache or run the
 * command and pack the paths, upload the bundle and its facts as artifacts, save the cache.
 */
async function build(inputs, context, checked) {
    const started = Date.now();
    const plan = checked ?? (await checkBuild(inputs, context));
    const timings = new Timings();
    await (0,promises_.rm)(plan.dir, { recursive: true, force: true });
    await (0,promises_.mkdir)(plan.dir, { recursive: true });
    try {
        const cached = inputs.cache && cache/* isFeatureAvailable */.w3();
        const restored = cached ? await restoreBundle(plan, timings, context.log) : undefined;
        const made = restored ?? (await makeBundle(inputs, plan, context, timings));
        // The artifact and cache clients say a lot: folded, so the build's own lines stand out.
        const uploaded = await context.log.group(`Uploading the build of ${plan.sha}`, () => uploadBuild(plan, made.facts, inputs['retention-days'], timings));
        if (cached && !made.cacheHit)
            await saveBundle(plan, timings, context.log);
        return {
            outputs: buildOutputs(plan, uploaded, made.cacheHit),
            summary: buildSummary(plan, uploaded, made, timings.describe(Date.now() - started)),
        };
    }
    finally {
        await (0,promises_.stat)(plan.dir).then(() => (0,promises_.rm)(plan.dir, { recursive: true, force: true }), () => undefined);
    }
}
/** The build stage's "check inputs" step: what the build works with, settled before anything runs. */
async function checkBuild(inputs, context) {
    const app = (0,names/* resolveApp */.Ae)(inputs.app, context);
    const sha = context.sha;
    if (!names/* COMMIT_SHA */.pk.test(sha)) {
        throw new Error(`GITHUB_SHA is not a full commit SHA: ${JSON.stringify(sha)}`);
    }
    const workDir = await workingDirectory(context.workspace, inputs['working-directory']);
    const dir = buildDirectory(context.env.HOME ?? external_node_os_default().homedir(), app, sha);
    const [bundlePath, factsPath] = cachePaths(dir, app, sha, inputs.compression);
    const key = cacheKey(app, sha);
    return {
        app,
        sha,
        compression: inputs.compression,
        workDir,
        dir,
        bundlePath,
        factsPath,
        cacheKey: key,
    };
}
/**
 * The `working-directory` input, checked before anything runs in it: a directory that exists,
 * inside the workspace, also once every symlink on the way is followed.
 */
async function workingDirectory(workspace, input) {
    const refuse = (problem, got) => new errors/* ConfigurationError */.j1({
        input: 'working-directory',
        problem,
        got: got ?? (0,errors/* quoted */.TL)(input ?? '.'),
    });
    const dir = external_node_path_default().resolve(workspace, input ?? '.');
    if (!isInside(workspace, dir))
        throw refuse(`is outside the workspace ${workspace}`);
    const stats = await (0,promises_.stat)(dir).catch((error) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR')
            return undefined;
        throw error;
    });
    if (stats === undefined)
        throw refuse('does not exist in the workspace');
    if (!stats.isDirectory())
        throw refuse('is not a directory');
    const real = await (0,promises_.realpath)(dir);
    if (!isInside(await (0,promises_.realpath)(workspace), real)) {
        throw refuse(`leads outside the workspace through a symlink, to ${real}`);
    }
    return dir;
}
function isInside(root, dir) {
    const relative = external_node_path_default().relative(root, dir);
    return !(relative === '..' || relative.startsWith(`..${(external_node_path_default()).sep}`) || external_node_path_default().isAbsolute(relative));
}
/** The bundle of this commit from the cache, if it is there and matches its facts. */
async function restoreBundle(plan, timings, log) {
    const { bundlePath, factsPath, cacheKey: key, sha } = plan;
    const hit = await timings.time('cache restore', () => log.group(`Restoring the bundle of ${sha} from the cache`, () => cache/* restoreCache */.P3([bundlePath, factsPath], key)));
    if (!hit)
        return undefined;
    const restored = manifest_parseBuildFacts(JSON.parse(await (0,promises_.readFile)(factsPath, 'utf8')));
    if (restored.compression === plan.compression &&
        (await bundle_bundleDigest(bundlePath)) === restored.digest) {
        log.info(`Restored the bundle of ${sha} from the cache (${key}): skipping command and packing`);
        return { facts: restored, cacheHit: true, topLevel: [] };
    }
    log.warning(`The cached bundle of ${sha} does not match its facts or compression: building again`);
    return undefined;
}
/** Runs the build command, then packs the `path` lines into the bundle. */
async function makeBundle(inputs, plan, context, timings) {
    const { log } = context;
    if (inputs.command !== undefined) {
        const command = inputs.command;
        log.info(`Running the build command in ${plan.workDir}`);
        const result = await timings.time('command', () => execBash(command, {
            cwd: plan.workDir,
            env: context.env,
            write: (chunk) => process.stdout.write(chunk),
        }));
        if (result.code !== 0) {
            throw new errors/* ConfigurationError */.j1({
                input: 'command',
                problem: `failed with exit code ${result.code}`,
                got: (0,errors/* foldedTail */.J4)(result.tail.slice(-5).join(' | ') || '(no output)'),
            });
        }
    }
    const mtime = await sourceDateEpoch(context, plan.sha);
    const packed = await timings.time('pack', () => pack(inputs.path, plan, mtime, log));
    const facts = {
        app: plan.app,
        sha: plan.sha,
        ref: context.ref,
        runId: Number(context.runId),
        runAttempt: Number(context.runAttempt),
        digest: packed.digest,
        size: packed.size,
        files: packed.files,
        compression: plan.compression,
        created: new Date().toISOString(),
    };
    log.info(`Packed ${packed.files} files into ${(0,markdown/* formatBytes */.z3)(packed.size)}: ${packed.digest}`);
    return { facts, cacheHit: false, topLevel: packed.topLevel };
}
/** Packs what the `path` lines name; a refusal of what they name is said of that input. */
async function pack(patterns, plan, mtime, log) {
    let entries;
    try {
        entries = await resolveEntries(plan.workDir, patterns);
    }
    catch (error) {
        if (!(error instanceof errors/* ConfigurationError */.j1))
            throw error;
        throw new errors/* ConfigurationError */.j1({ ...error.problem, input: 'path' });
    }
    let lastReport = Date.now();
    return packBundle({
        root: plan.workDir,
        entries,
        compression: plan.compression,
        mtime,
        onProgress: (progress) => {
            if (Date.now() - lastReport < 5000)
                return;
            lastReport = Date.now();
            log.info(`Packing: ${progress.entries} of ${progress.total} entries, ${(0,markdown/* formatBytes */.z3)(progress.bytes)} read`);
        },
    }, plan.bundlePath);
}
/** The commit time, so that the same commit always packs to the same bytes. */
async function sourceDateEpoch(context, sha) {
    const fromEnv = context.env.SOURCE_DATE_EPOCH;
    if (fromEnv !== undefined && /^\d+$/.test(fromEnv) && Number(fromEnv) <= tar_MAX_MTIME) {
        return Number(fromEnv);
    }
    try {
        const { stdout } = await (0,external_node_util_.promisify)(external_node_child_process_.execFile)('git', ['log', '-1', '--format=%ct', sha], {
            cwd: context.workspace,
        });
        if (/^\d+\s*$/.test(stdout))
            return Number(stdout.trim());
    }
    catch {
        // Not a git checkout, or the commit is not fetched: fall back to a fixed time.
    }
    context.log.info('No commit time (no git history, no SOURCE_DATE_EPOCH): bundle times are 1970-01-01');
    return 0;
}
/** Uploads the bundle as it is, then its facts; a failed second upload removes the first. */
async function uploadBuild(plan, facts, retentionDays, timings) {
    const artifacts = new artifact/* DefaultArtifactClient */.t9();
    const options = { skipArchive: true, ...(retentionDays > 0 ? { retentionDays } : {}) };
    const name = external_node_path_default().basename(plan.bundlePath);
    const uploaded = await timings.time('upload', () => artifacts.uploadArtifact(name, [plan.bundlePath], plan.dir, options));
    if (uploaded.id === undefined)
        throw new Error(`the artifact service gave no ID for ${name}`);
    if (uploaded.digest !== undefined && `sha256:${uploaded.digest}` !== facts.digest) {
        throw new Error(`uploaded ${name} has digest sha256:${uploaded.digest}, expected ${facts.digest}`);
    }
    const recorded = { ...facts, artifact: { id: uploaded.id, name } };
    await (0,promises_.writeFile)(plan.factsPath, `${JSON.stringify(recorded, null, 2)}\n`);
    try {
        const factsName = external_node_path_default().basename(plan.factsPath);
        await artifacts.uploadArtifact(factsName, [plan.factsPath], plan.dir, options);
    }
    catch (error) {
        await artifacts.deleteArtifact(name).catch(() => undefined);
        throw error;
    }
    return { id: uploaded.id, name, facts: recorded };
}
/** Saves the bundle and its facts under the commit's key; a failure is only a warning. */
async function saveBundle(plan, timings, log) {
    await timings.time('cache save', async () => {
        try {
            await log.group(`Saving the bundle in the cache as ${plan.cacheKey}`, () => cache/* saveCache */.Io([plan.bundlePath, plan.factsPath], plan.cacheKey));
            log.info(`Saved the bundle in the cache as ${plan.cacheKey}`);
        }
        catch (error) {
            log.warning(`Could not save the bundle in the cache: ${error.message}`);
        }
    });
}
function buildOutputs(plan, uploaded, cacheHit) {
    return {
        'build-id': buildId(plan.app, plan.sha),
        sha: plan.sha,
        'artifact-id': String(uploaded.id),
        'artifact-name': uploaded.name,
        digest: uploaded.facts.digest,
        size: String(uploaded.facts.size),
        files: String(uploaded.facts.files),
        'cache-hit': String(cacheHit),
    };
}
function buildSummary(plan, uploaded, made, time) {
    const { facts } = uploaded;
    const rows = [
        ['Bundle', `\`${uploaded.name}\` (artifact ${uploaded.id})`],
        ['Digest', `\`${facts.digest}\``],
        ['Size', `${(0,markdown/* formatBytes */.z3)(facts.size)}, ${facts.files} files, ${plan.compression}`],
        [
            'Cache',
            made.cacheHit
                ? `hit (\`${plan.cacheKey}\`): command and packing skipped`
                : 'miss: built and packed',
        ],
        ...(made.topLevel.length > 0
            ? [['Contents', made.topLevel.map((name) => `\`${name}\``).join(' ')]]
            : []),
        ['Time', time],
    ];
    return [
        `### Build ${plan.app} @ \`${plan.sha.slice(0, 7)}\``,
        '',
        (0,markdown/* markdownTable */.Qj)(['', ''], rows),
        '',
    ].join('\n');
}
/** How long each phase took, for the summary. */
class Timings {
    #phases = [];
    async time(phase, work) {
        const at = Date.now();
        try {
            return await work();
        }
        finally {
            this.#phases.push([phase, Date.now() - at]);
        }
    }
    describe(totalMs) {
        const phases = this.#phases.map(([phase, ms]) => `${phase} ${(0,markdown/* formatSeconds */.Xo)(ms)}`);
        return `${(0,markdown/* formatSeconds */.Xo)(totalMs)} (${phases.join(', ')})`;
    }
}


/***/ })

};
