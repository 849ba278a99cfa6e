// codestream on Azure: Web PubSub for Socket.IO (serverless), a Python Function App on Flex
// Consumption with identity-based storage and telemetry, and a Static Web App for the site.
//
// Deploy with infra/deploy.sh (or `azd up`), which runs this template, then deploys the code,
// then wires the hub's event handler (modules/socketio-hub.bicep): the handler's URL needs
// the Function App's `socketio_extension` key, which exists only once the code is running.
// See docs/DEPLOY.md.

targetScope = 'resourceGroup'

@description('Environment name (the azd environment); goes into the resource names\' hash and the tags.')
@minLength(1)
@maxLength(64)
param environmentName string = 'codestream'

@description('Azure region for everything but the Static Web App; it must offer Flex Consumption and Web PubSub.')
param location string = resourceGroup().location

@description('Azure region for the Static Web App (Static Web Apps runs in a few regions only).')
@allowed([
  'westus2'
  'centralus'
  'eastus2'
  'westeurope'
  'eastasia'
])
param staticWebAppLocation string = 'westeurope'

@description('Short prefix of every resource name (lowercase letters and digits).')
@minLength(2)
@maxLength(10)
param appName string = 'codestream'

@description('Socket.IO hub name; the code\'s default is DEFAULT_HUB in shared/settings.py.')
@minLength(1)
@maxLength(128)
param hubName string = 'codestream'

@description('Web PubSub for Socket.IO tier: Free_F1 (20 connections, 20,000 messages a day), Standard_S1 or Premium_P1.')
@allowed([
  'Free_F1'
  'Standard_S1'
  'Premium_P1'
])
param webPubSubSku string = 'Free_F1'

@description('Web PubSub units for Standard_S1 or Premium_P1 (1,000 connections a unit: 1, 2, 5, 10, 20, 50 or 100); Free_F1 always runs 1.')
@allowed([
  1
  2
  5
  10
  20
  50
  100
])
param webPubSubCapacity int = 1

@description('Server secret that signs writer keys (CODESTREAM_SECRET): 32 characters or more, random, kept the same across deployments.')
@secure()
@minLength(32)
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 48
      noSpecial: true
    }
  }
})
param codestreamSecret string

@description('More browser origins allowed to call the API (e.g. a custom domain), besides the Static Web App\'s own.')
param extraAllowedOrigins array = []

@description('Most instances the Function App may scale out to.')
@minValue(1)
@maxValue(1000)
param functionMaximumInstanceCount int = 40

@description('Memory of each Function App instance in MB.')
@allowed([
  512
  2048
  4096
])
param functionInstanceMemoryMB int = 2048

@description('Also deploy the hub\'s event handler. Only once the code is deployed: the handler needs the Function App\'s socketio_extension key, which the code creates.')
param wireEventHandler bool = false

var pythonVersion = '3.13' // .python-version-azure: the version tests/azure run the app on
var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  app: 'codestream'
  'azd-env-name': environmentName
}
var names = {
  logAnalytics: 'log-${appName}-${token}'
  appInsights: 'appi-${appName}-${token}'
  storage: take(toLower('st${replace(appName, '-', '')}${token}'), 24)
  deploymentContainer: 'app-package'
  webPubSub: 'wps-${appName}-${token}'
  plan: 'plan-${appName}-${token}'
  functionApp: 'func-${appName}-${token}'
  staticWebApp: 'swa-${appName}-${token}'
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    storageAccountName: names.storage
    deploymentContainerName: names.deploymentContainer
  }
}

module webPubSub 'modules/webpubsub.bicep' = {
  name: 'webpubsub'
  params: {
    location: location
    tags: union(tags, { 'codestream-role': 'socketio' })
    webPubSubName: names.webPubSub
    skuName: webPubSubSku
    capacity: webPubSubCapacity
  }
}

module staticWebApp 'modules/staticwebapp.bicep' = {
  name: 'staticwebapp'
  params: {
    location: staticWebAppLocation
    tags: tags
    staticWebAppName: names.staticWebApp
    serviceTags: {
      'azd-service-name': 'web'
      'codestream-role': 'web'
    }
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: tags
    planName: names.plan
    functionAppName: names.functionApp
    storageAccountName: storage.outputs.storageAccountName
    deploymentContainerName: storage.outputs.deploymentContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    webPubSubName: webPubSub.outputs.webPubSubName
    hubName: hubName
    allowedOrigins: union([
      'https://${staticWebApp.outputs.defaultHostname}'
    ], extraAllowedOrigins)
    codestreamSecret: codestreamSecret
    pythonVersion: pythonVersion
    maximumInstanceCount: functionMaximumInstanceCount
    instanceMemoryMB: functionInstanceMemoryMB
    serviceTags: {
      'azd-service-name': 'api'
      'codestream-role': 'api'
    }
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.storageAccountName
    appInsightsName: monitoring.outputs.appInsightsName
    webPubSubName: webPubSub.outputs.webPubSubName
  }
}

module socketioHub 'modules/socketio-hub.bicep' = if (wireEventHandler) {
  name: 'socketio-hub'
  params: {
    webPubSubName: webPubSub.outputs.webPubSubName
    functionAppName: functionApp.outputs.functionAppName
    hubName: hubName
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output FUNCTION_APP_NAME string = functionApp.outputs.functionAppName
output API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}'
output STATIC_WEB_APP_NAME string = staticWebApp.outputs.staticWebAppName
output STATIC_SITE_URL string = 'https://${staticWebApp.outputs.defaultHostname}'
output WEB_PUBSUB_NAME string = webPubSub.outputs.webPubSubName
output WEB_PUBSUB_ENDPOINT string = webPubSub.outputs.endpoint
output CODESTREAM_HUB string = hubName
