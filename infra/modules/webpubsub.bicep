// Web PubSub for Socket.IO in serverless mode: browsers hold their Socket.IO connection
// here; the service forwards their events to the Function App (the hub and its event
// handler live in socketio-hub.bicep, deployed once the code is up).

@description('Azure region for the service.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the Web PubSub for Socket.IO resource; it becomes <name>.webpubsub.azure.com.')
@minLength(3)
@maxLength(63)
param webPubSubName string

@description('Pricing tier: Free_F1 (1 unit: 20 connections, 20,000 messages a day), Standard_S1 or Premium_P1 (1,000 connections a unit).')
@allowed([
  'Free_F1'
  'Standard_S1'
  'Premium_P1'
])
param skuName string = 'Free_F1'

@description('Units for Standard_S1 or Premium_P1 (1,000 connections each). Free_F1 always runs 1 unit.')
@allowed([
  1
  2
  5
  10
  20
  50
  100
])
param capacity int = 1

var skuTier = split(skuName, '_')[0]

resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' = {
  name: webPubSubName
  location: location
  tags: tags
  //checkov:skip=CKV_AZURE_175:Free_F1 (no SLA) is the cost-free default for trying codestream; production picks Standard_S1 or Premium_P1 with the webPubSubSku parameter.
  //checkov:skip=CKV_AZURE_176:The service calls out only to the Function App's webhook, which is authenticated by the system key in its URL; an identity for the service would go unused.
  kind: 'SocketIO'
  sku: {
    name: skuName
    tier: skuTier
    capacity: skuName == 'Free_F1' ? 1 : capacity
  }
  properties: {
    socketIO: {
      serviceMode: 'Serverless'
    }
    // The Function App authenticates with its managed identity (Web PubSub Service Owner,
    // granted in roles.bicep), so access keys are not needed: local auth is off.
    disableLocalAuth: true
    disableAadAuth: false
    publicNetworkAccess: 'Enabled'
    tls: {
      clientCertEnabled: false
    }
  }
}

output webPubSubName string = webPubSub.name
output endpoint string = 'https://${webPubSub.properties.hostName}'
