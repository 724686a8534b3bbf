const authentication = require('./authentication');
const sendEvent = require('./creates/send-event');
const { befores, afters } = require('./middleware');
const newEvent = require('./triggers/new-event');
const newEventInstant = require('./triggers/new-event-instant');

/** The Triggers API integration for Zapier (DESIGN §12). */
module.exports = {
  version: require('./package.json').version,
  platformVersion: require('zapier-platform-core').version,

  authentication,
  beforeRequest: [...befores],
  afterResponse: [...afters],

  triggers: {
    [newEvent.key]: newEvent,
    [newEventInstant.key]: newEventInstant,
  },
  searches: {},
  creates: {
    [sendEvent.key]: sendEvent,
  },
  resources: {},
};
