// Posts the context time of every beep onset: first |x| > 0.15 after >= 200 ms of quiet.
class Beep extends AudioWorkletProcessor {
  constructor() { super(); this.quiet = 1e9; }
  process(inputs, outputs) {
    const inp = inputs[0];
    if (inp && inp.length) {
      const x = inp[0];
      const q = 0.2 * sampleRate;
      for (let i = 0; i < x.length; i++) {
        if (Math.abs(x[i]) > 0.15) {
          if (this.quiet >= q) this.port.postMessage({t: (currentFrame + i) / sampleRate});
          this.quiet = 0;
        } else this.quiet++;
      }
      for (let c = 0; c < outputs[0].length; c++) outputs[0][c].set(inp[Math.min(c, inp.length - 1)]);
    }
    return true;
  }
}
registerProcessor('beep', Beep);
