// The Socket.IO hub and its event handler: Web PubSub forwards every client event to the
// Function App's Socket.IO webhook. The URL carries the Function App's `socketio_extension`
// system key, which exists only once code using the Socket.IO extension is deployed and the
// host has started: deploy this module after the code (deploy.sh's `hub` step). The key is
// read here with listKeys() and never leaves the deployment: no output holds it.

@description('Web PubSub for Socket.IO resource that owns the hub.')
param webPubSubName string

@description('Function App that handles the hub\'s events.')
param functionAppName string

@description('Socket.IO hub name; must equal CODESTREAM_HUB of the Function App.')
param hubName string

var webhookPath = '/runtime/webhooks/socketio'
var systemEvents = [
  'connect'
  'connected'
  'disconnected'
]

resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' existing = {
  name: webPubSubName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource functionHost 'Microsoft.Web/sites/host@2024-04-01' existing = {
  parent: functionApp
  name: 'default'
}

resource hub 'Microsoft.SignalRService/webPubSub/hubs@2024-03-01' = {
  parent: webPubSub
  name: hubName
  properties: {
    eventHandlers: [
      {
        urlTemplate: 'https://${functionApp.properties.defaultHostName}${webhookPath}?code=${functionHost.listKeys().systemKeys.socketio_extension}'
        userEventPattern: '*'
        systemEvents: systemEvents
      }
    ]
    anonymousConnectPolicy: 'deny'
  }
}

output hubName string = hub.name
