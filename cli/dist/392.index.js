export const id = 392;
export const ids = [392];
export const modules = {

/***/ 5392:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony import */ var node_v8__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(8877);
/* harmony import */ var node_v8__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_v8__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_vm__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(714);
/* harmony import */ var node_vm__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_vm__WEBPACK_IMPORTED_MODULE_1__);


/*
 * How the runner keeps its memory flat while it streams bundles, set before any work by the
 * entries that verify and deploy them (run-action, ship, release-action, brr). build-action
 * leaves V8 be: packing a 1 GiB tree took 6% longer with the first of these.
 *
 * The young generation stays at the size it starts with. Node 24 lets it grow to 64 MiB a
 * semi-space on a machine with a few GiB of memory, and it grows with every object that outlives
 * a scavenge: checking a bundle of 117,714 entries took it there, and the check's peak from
 * 203 MiB to 317 MiB (docs/decisions.md, "Memory on the runner").
 *
 * Dead buffers are collected once they add up to BUFFER_GROWTH. V8 frees an ArrayBuffer that
 * outlived a scavenge, or met none (a stream of large buffers allocates little on the heap, so
 * scavenges are rare), only once external memory has grown by 64 MiB since its last full
 * collection. Every stream of a deploy makes such buffers, and none of them ours to reuse: the
 * bundle as it is read, zlib's output, ssh2's packets. So a deploy of any size carried up to
 * 64 MiB of them, and its peak rose with the tree's length until that bound. A timer looks at
 * external memory every CHECK_EVERY_MS and, once it has grown by BUFFER_GROWTH since, collects.
 * A collection of the runner's small heap takes a few milliseconds; for the check of a 1 GiB
 * bundle, seven of them took 116–133 ms in all, and its peak fell from 174–192 MiB to 153–158.
 */
node_v8__WEBPACK_IMPORTED_MODULE_0___default().setFlagsFromString('--semi-space-growth-factor=1');
/** External memory (buffers, mostly) that may grow before the garbage is collected. */
const BUFFER_GROWTH = 16 * 1024 * 1024;
const CHECK_EVERY_MS = 100;
// V8 gives `gc` to contexts made once the flag is set; this one is made only to take it.
node_v8__WEBPACK_IMPORTED_MODULE_0___default().setFlagsFromString('--expose-gc');
const collect = (0,node_vm__WEBPACK_IMPORTED_MODULE_1__.runInNewContext)('gc');
const external = () => node_v8__WEBPACK_IMPORTED_MODULE_0___default().getHeapStatistics().external_memory;
let floor = external();
setInterval(() => {
    const now = external();
    if (now - floor < BUFFER_GROWTH) {
        floor = Math.min(floor, now);
        return;
    }
    collect({ type: 'major' });
    floor = external();
}, CHECK_EVERY_MS).unref();


/***/ })

};
